import buildBundle from '../global-setup.js';
import { comfyTarget, NEEDS_COMFYUI } from './real-comfy.js';

// Fails the run at once, before building anything, when there is no ComfyUI to run against.
export default function setup(): void {
  if (!comfyTarget()) throw new Error(NEEDS_COMFYUI);
  buildBundle();
}
