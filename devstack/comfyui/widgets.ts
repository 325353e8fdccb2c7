// Widget inputs of the catalogue's node classes (nodes.ts): their option lists and ranges, as the
// classes' INPUT_TYPES declare them in ComfyUI's nodes.py and comfy_extras/*.py. GET /object_info
// serves them; the model lists stand for the files in ComfyUI's models/ folders.

export interface WidgetSpec {
  default?: unknown;
  min?: number;
  max?: number;
  step?: number;
  /** A combo: the values it accepts (ComfyUI lists model files, samplers, methods…). */
  options?: readonly string[] | 'input-files';
  multiline?: boolean;
}

/** The model files this simulated ComfyUI "has" (folder_paths.get_filename_list). */
export const MODEL_FILES = {
  checkpoints: ['v1-5-pruned-emaonly.safetensors', 'sd_xl_base_1.0.safetensors'],
  upscale_models: ['RealESRGAN_x4plus.pth', '4x-UltraSharp.pth'],
} as const;

/** comfy/samplers.py KSAMPLER_NAMES + SAMPLER_NAMES (a common subset) and SCHEDULER_NAMES. */
const SAMPLERS = ['euler', 'euler_ancestral', 'heun', 'dpm_2', 'dpm_2_ancestral', 'lms', 'dpmpp_2m', 'dpmpp_2m_sde', 'dpmpp_3m_sde', 'lcm', 'ddim', 'uni_pc'];
const SCHEDULERS = ['simple', 'sgm_uniform', 'karras', 'exponential', 'ddim_uniform', 'beta', 'normal', 'linear_quadratic', 'kl_optimal'];
/** nodes.py MAX_RESOLUTION */
const MAX_RESOLUTION = 16384;
/** KSampler's seed: 0xffffffffffffffff, which JSON readers in JavaScript see as 18446744073709552000. */
const SEED_MAX = 2 ** 64 - 1;

const seed: WidgetSpec = { default: 0, min: 0, max: SEED_MAX };
const sampling: Record<string, WidgetSpec> = {
  steps: { default: 20, min: 1, max: 10000 },
  cfg: { default: 8.0, min: 0.0, max: 100.0, step: 0.1 },
  sampler_name: { options: SAMPLERS },
  scheduler: { options: SCHEDULERS },
};
const prefix: WidgetSpec = { default: 'ComfyUI' };
const scaleMethods = ['nearest-exact', 'bilinear', 'area', 'bicubic', 'lanczos'];

export const WIDGETS: Record<string, Record<string, WidgetSpec>> = {
  CheckpointLoaderSimple: { ckpt_name: { options: MODEL_FILES.checkpoints } },
  CLIPTextEncode: { text: { multiline: true } },
  EmptyLatentImage: {
    width: { default: 512, min: 16, max: MAX_RESOLUTION, step: 8 },
    height: { default: 512, min: 16, max: MAX_RESOLUTION, step: 8 },
    batch_size: { default: 1, min: 1, max: 4096 },
  },
  KSampler: { seed, ...sampling, denoise: { default: 1.0, min: 0.0, max: 1.0, step: 0.01 } },
  KSamplerAdvanced: {
    add_noise: { options: ['enable', 'disable'] },
    noise_seed: seed,
    ...sampling,
    start_at_step: { default: 0, min: 0, max: 10000 },
    end_at_step: { default: 10000, min: 0, max: 10000 },
    return_with_leftover_noise: { options: ['disable', 'enable'] },
  },
  LoadImage: { image: { options: 'input-files' } },
  ImageScaleBy: { upscale_method: { options: scaleMethods }, scale_by: { default: 1.0, min: 0.01, max: 8.0, step: 0.01 } },
  UpscaleModelLoader: { model_name: { options: MODEL_FILES.upscale_models } },
  SaveImage: { filename_prefix: prefix },
  SaveAnimatedWEBP: {
    filename_prefix: prefix,
    fps: { default: 6.0, min: 0.01, max: 1000.0, step: 0.01 },
    lossless: { default: true },
    quality: { default: 80, min: 0, max: 100 },
    method: { options: ['default', 'fastest', 'slowest'] },
  },
  SaveAudio: { filename_prefix: { default: 'audio/ComfyUI' } },
  SaveVideo: { filename_prefix: { default: 'video/ComfyUI' }, format: { options: ['auto', 'mp4'] }, codec: { options: ['auto', 'h264'] } },
  SaveGLB: { filename_prefix: { default: 'mesh/ComfyUI' } },
};
