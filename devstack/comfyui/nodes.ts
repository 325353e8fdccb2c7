// The fixed table of node classes the fake knows (ComfyUI: nodes.NODE_CLASS_MAPPINGS).
// Required inputs and return types follow nodes.py / comfy_extras/*.py; widget value ranges are not checked.

/** What an output node writes and under which `ui` key (see outputs.ts). */
export type OutputKind = 'image' | 'preview' | 'webp' | 'audio' | 'text' | 'video' | 'glb' | 'vhs' | 'custom';

export interface NodeDef {
  /** input name -> ComfyUI type ('*' accepts anything) */
  required: Record<string, string>;
  optional?: Record<string, string>;
  returns: string[];
  output?: OutputKind;
  category: string;
  displayName?: string;
}

const SAMPLER_INPUTS = {
  model: 'MODEL',
  positive: 'CONDITIONING',
  negative: 'CONDITIONING',
  latent_image: 'LATENT',
  steps: 'INT',
  cfg: 'FLOAT',
  sampler_name: 'COMBO',
  scheduler: 'COMBO',
};

export const NODE_DEFS: Record<string, NodeDef> = {
  CheckpointLoaderSimple: { required: { ckpt_name: 'COMBO' }, returns: ['MODEL', 'CLIP', 'VAE'], category: 'loaders' },
  CLIPTextEncode: { required: { text: 'STRING', clip: 'CLIP' }, returns: ['CONDITIONING'], category: 'conditioning' },
  EmptyLatentImage: {
    required: { width: 'INT', height: 'INT', batch_size: 'INT' },
    returns: ['LATENT'],
    category: 'latent',
  },
  KSampler: { required: { ...SAMPLER_INPUTS, seed: 'INT', denoise: 'FLOAT' }, returns: ['LATENT'], category: 'sampling' },
  KSamplerAdvanced: {
    required: {
      ...SAMPLER_INPUTS,
      add_noise: 'COMBO',
      noise_seed: 'INT',
      start_at_step: 'INT',
      end_at_step: 'INT',
      return_with_leftover_noise: 'COMBO',
    },
    returns: ['LATENT'],
    category: 'sampling',
  },
  VAEDecode: { required: { samples: 'LATENT', vae: 'VAE' }, returns: ['IMAGE'], category: 'latent' },
  VAEEncode: { required: { pixels: 'IMAGE', vae: 'VAE' }, returns: ['LATENT'], category: 'latent' },
  LoadImage: { required: { image: 'COMBO' }, returns: ['IMAGE', 'MASK'], category: 'image' },
  ImageScaleBy: { required: { image: 'IMAGE', upscale_method: 'COMBO', scale_by: 'FLOAT' }, returns: ['IMAGE'], category: 'image/upscaling' },
  // comfy_extras/nodes_upscale_model.py
  UpscaleModelLoader: { required: { model_name: 'COMBO' }, returns: ['UPSCALE_MODEL'], category: 'loaders' },
  ImageUpscaleWithModel: { required: { upscale_model: 'UPSCALE_MODEL', image: 'IMAGE' }, returns: ['IMAGE'], category: 'image/upscaling' },
  LoadAudio: { required: { audio: 'COMBO' }, returns: ['AUDIO'], category: 'audio' },
  CreateVideo: { required: { images: 'IMAGE', fps: 'FLOAT' }, optional: { audio: 'AUDIO' }, returns: ['VIDEO'], category: 'image/video' },
  VAEDecodeHunyuan3D: {
    required: { samples: 'LATENT', vae: 'VAE', num_chunks: 'INT', octree_resolution: 'INT' },
    returns: ['VOXEL'],
    category: 'latent/3d',
  },
  VoxelToMeshBasic: { required: { voxel: 'VOXEL', threshold: 'FLOAT' }, returns: ['MESH'], category: '3d' },
  // output nodes (OUTPUT_NODE = True)
  SaveImage: { required: { images: 'IMAGE', filename_prefix: 'STRING' }, returns: [], output: 'image', category: 'image' },
  PreviewImage: { required: { images: 'IMAGE' }, returns: [], output: 'preview', category: 'image' },
  SaveAnimatedWEBP: {
    required: { images: 'IMAGE', filename_prefix: 'STRING', fps: 'FLOAT', lossless: 'BOOLEAN', quality: 'INT', method: 'COMBO' },
    returns: [],
    output: 'webp',
    category: 'image/animation',
  },
  SaveAudio: { required: { audio: 'AUDIO', filename_prefix: 'STRING' }, returns: [], output: 'audio', category: 'audio' },
  PreviewAny: { required: { source: '*' }, returns: [], output: 'text', category: 'utils' },
  SaveVideo: {
    required: { video: 'VIDEO', filename_prefix: 'STRING', format: 'COMBO', codec: 'COMBO' },
    returns: [],
    output: 'video',
    category: 'image/video',
  },
  SaveGLB: { required: { mesh: 'MESH', filename_prefix: 'STRING' }, returns: [], output: 'glb', category: '3d' },
  // custom node (ComfyUI-VideoHelperSuite): `gifs` entries carry format, frame_rate, workflow, fullpath
  VHS_VideoCombine: {
    required: {
      images: 'IMAGE',
      frame_rate: 'FLOAT',
      loop_count: 'INT',
      filename_prefix: 'STRING',
      format: 'COMBO',
      pingpong: 'BOOLEAN',
      save_output: 'BOOLEAN',
    },
    optional: { audio: 'AUDIO' },
    returns: ['VHS_FILENAMES'],
    output: 'vhs',
    category: 'Video Helper Suite 🎥🅥🅗🅢',
    displayName: 'Video Combine 🎥🅥🅗🅢',
  },
  // made-up custom output node: files under a key no core node uses, plus a plain data key
  MyCustomSaver: {
    required: { images: 'IMAGE', filename_prefix: 'STRING' },
    returns: [],
    output: 'custom',
    category: 'custom',
  },
};

/** Nodes that report sampling progress (class_type containing 'Sampler'). */
export const isSampler = (classType: string): boolean => classType.includes('Sampler');

/** comfy_execution/validation.py validate_node_input: '*' matches anything, unions are comma-separated. */
export function typesMatch(received: string, expected: string): boolean {
  if (received === expected || received === '*' || expected === '*') return true;
  const want = new Set(expected.split(','));
  return received.split(',').every((t) => want.has(t));
}
