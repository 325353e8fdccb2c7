// The fixed table of node classes the fake knows (ComfyUI: nodes.NODE_CLASS_MAPPINGS).
// Required inputs, return types, value ranges and option lists follow nodes.py / comfy_extras/*.py;
// validate.ts checks widget values against them as execution.py validate_inputs does.

/** What an output node writes and under which `ui` key (see outputs.ts). */
export type OutputKind = 'image' | 'preview' | 'webp' | 'audio' | 'text' | 'video' | 'glb' | 'vhs' | 'custom';

/** A widget's limits (the options dict of INPUT_TYPES): numeric range, or the list a COMBO takes its value from. */
export interface InputLimits {
  default?: unknown;
  min?: number;
  max?: number;
  step?: number;
  options?: string[];
}

export interface NodeDef {
  /** input name -> ComfyUI type ('*' accepts anything) */
  required: Record<string, string>;
  /** widget limits by input name */
  limits?: Record<string, InputLimits>;
  /** hidden inputs ComfyUI fills in itself (INPUT_TYPES "hidden"): they show in an error's current_inputs */
  hidden?: string[];
  optional?: Record<string, string>;
  returns: string[];
  output?: OutputKind;
  category: string;
  displayName?: string;
}

/** nodes.py MAX_RESOLUTION */
const MAX_RESOLUTION = 16384;
// comfy/samplers.py KSampler.SAMPLERS / SCHEDULERS (a prefix of the lists: enough for the sample graphs)
const SAMPLERS = ['euler', 'euler_cfg_pp', 'euler_ancestral', 'heun', 'dpm_2', 'dpm_2_ancestral', 'lms', 'dpmpp_2m', 'dpmpp_sde', 'ddim', 'uni_pc'];
const SCHEDULERS = ['simple', 'sgm_uniform', 'karras', 'exponential', 'ddim_uniform', 'beta', 'normal', 'linear_quadratic', 'kl_optimal'];
/** The checkpoints this fake ComfyUI "has" in models/checkpoints (folder_paths.get_filename_list). */
export const CHECKPOINTS = ['v1-5-pruned-emaonly.safetensors', 'sd_xl_base_1.0.safetensors'];
/** The upscale models it "has" in models/upscale_models. */
export const UPSCALE_MODELS = ['RealESRGAN_x4plus.pth', '4x-UltraSharp.pth'];

const SAMPLER_LIMITS: Record<string, InputLimits> = {
  seed: { default: 0, min: 0, max: 2 ** 64 - 1 }, // 0xffffffffffffffff, as near as a double gets
  steps: { default: 20, min: 1, max: 10000 },
  cfg: { default: 8.0, min: 0.0, max: 100.0, step: 0.1 },
  sampler_name: { options: SAMPLERS },
  scheduler: { options: SCHEDULERS },
  denoise: { default: 1.0, min: 0.0, max: 1.0, step: 0.01 },
};
const size = (fallback: number, min: number): InputLimits => ({ default: fallback, min, max: MAX_RESOLUTION, step: min === 16 ? 8 : 1 });

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
  CheckpointLoaderSimple: { required: { ckpt_name: 'COMBO' }, limits: { ckpt_name: { options: CHECKPOINTS } }, returns: ['MODEL', 'CLIP', 'VAE'], category: 'loaders' },
  CLIPTextEncode: { required: { text: 'STRING', clip: 'CLIP' }, returns: ['CONDITIONING'], category: 'conditioning' },
  EmptyLatentImage: {
    required: { width: 'INT', height: 'INT', batch_size: 'INT' },
    limits: { width: size(512, 16), height: size(512, 16), batch_size: { default: 1, min: 1, max: 4096 } },
    returns: ['LATENT'],
    category: 'latent',
  },
  EmptyImage: {
    required: { width: 'INT', height: 'INT', batch_size: 'INT', color: 'INT' },
    limits: { width: size(512, 1), height: size(512, 1), batch_size: { default: 1, min: 1, max: 4096 }, color: { default: 0, min: 0, max: 0xffffff, step: 1 } },
    returns: ['IMAGE'],
    category: 'image',
  },
  ImageInvert: { required: { image: 'IMAGE' }, returns: ['IMAGE'], category: 'image' },
  // comfy_extras/nodes_post_processing.py Blur
  ImageBlur: {
    required: { image: 'IMAGE', blur_radius: 'INT', sigma: 'FLOAT' },
    limits: { blur_radius: { default: 1, min: 1, max: 31, step: 1 }, sigma: { default: 1.0, min: 0.1, max: 10.0, step: 0.1 } },
    returns: ['IMAGE'],
    category: 'image/postprocessing',
  },
  // comfy_extras/nodes_string.py
  StringConcatenate: { required: { string_a: 'STRING', string_b: 'STRING', delimiter: 'STRING' }, returns: ['STRING'], category: 'utils/string', displayName: 'Concatenate' },
  KSampler: { required: { ...SAMPLER_INPUTS, seed: 'INT', denoise: 'FLOAT' }, limits: SAMPLER_LIMITS, returns: ['LATENT'], category: 'sampling' },
  KSamplerAdvanced: {
    required: {
      ...SAMPLER_INPUTS,
      add_noise: 'COMBO',
      noise_seed: 'INT',
      start_at_step: 'INT',
      end_at_step: 'INT',
      return_with_leftover_noise: 'COMBO',
    },
    limits: {
      ...SAMPLER_LIMITS,
      noise_seed: SAMPLER_LIMITS.seed!,
      add_noise: { options: ['enable', 'disable'] },
      start_at_step: { default: 0, min: 0, max: 10000 },
      end_at_step: { default: 10000, min: 0, max: 10000 },
      return_with_leftover_noise: { options: ['disable', 'enable'] },
    },
    returns: ['LATENT'],
    category: 'sampling',
  },
  VAEDecode: { required: { samples: 'LATENT', vae: 'VAE' }, returns: ['IMAGE'], category: 'latent' },
  VAEEncode: { required: { pixels: 'IMAGE', vae: 'VAE' }, returns: ['LATENT'], category: 'latent' },
  LoadImage: { required: { image: 'COMBO' }, returns: ['IMAGE', 'MASK'], category: 'image' },
  ImageScaleBy: {
    required: { image: 'IMAGE', upscale_method: 'COMBO', scale_by: 'FLOAT' },
    limits: { upscale_method: { options: ['nearest-exact', 'bilinear', 'area', 'bicubic', 'lanczos'] }, scale_by: { default: 1.0, min: 0.01, max: 8.0, step: 0.01 } },
    returns: ['IMAGE'],
    category: 'image/upscaling',
  },
  // comfy_extras/nodes_upscale_model.py
  UpscaleModelLoader: { required: { model_name: 'COMBO' }, limits: { model_name: { options: UPSCALE_MODELS } }, returns: ['UPSCALE_MODEL'], category: 'loaders' },
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
  SaveImage: { required: { images: 'IMAGE', filename_prefix: 'STRING' }, hidden: ['prompt', 'extra_pnginfo'], returns: [], output: 'image', category: 'image' },
  PreviewImage: { required: { images: 'IMAGE' }, hidden: ['prompt', 'extra_pnginfo'], returns: [], output: 'preview', category: 'image' },
  SaveAnimatedWEBP: {
    required: { images: 'IMAGE', filename_prefix: 'STRING', fps: 'FLOAT', lossless: 'BOOLEAN', quality: 'INT', method: 'COMBO' },
    limits: {
      fps: { default: 6.0, min: 0.01, max: 1000.0, step: 0.01 },
      quality: { default: 80, min: 0, max: 100 },
      method: { options: ['default', 'fastest', 'slowest'] },
    },
    hidden: ['prompt', 'extra_pnginfo'],
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

/** GET /object_info entry (server.py node_info), reduced to what a client reads. */
export function nodeInfo(name: string, def: NodeDef): Record<string, unknown> {
  const asSpec = (inputs: Record<string, string>) => Object.fromEntries(Object.keys(inputs).map((k) => [k, inputConfig(def, k)]));
  return {
    input: { required: asSpec(def.required), ...(def.optional ? { optional: asSpec(def.optional) } : {}) },
    input_order: { required: Object.keys(def.required), ...(def.optional ? { optional: Object.keys(def.optional) } : {}) },
    output: def.returns,
    output_is_list: def.returns.map(() => false),
    output_name: def.returns,
    name,
    display_name: def.displayName ?? name,
    description: '',
    python_module: name.startsWith('VHS_') || name === 'MyCustomSaver' ? `custom_nodes.${name}` : 'nodes',
    category: def.category,
    output_node: def.output !== undefined,
  };
}

/** An input's INPUT_TYPES entry as /object_info and validation errors show it: [type, options], a COMBO as [list, {}]. */
export function inputConfig(def: NodeDef, name: string): [unknown, Record<string, unknown>] {
  const type = def.required[name] ?? def.optional?.[name] ?? '*';
  const { options, ...rest } = def.limits?.[name] ?? {};
  return options ? [options, rest] : [type, rest];
}
