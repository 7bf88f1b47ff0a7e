export { OciLayout } from './layout.js';
export type { Descriptor } from './validate.js';
export { deterministicTarGz, GZIP_LEVEL, type TarOptions, type TarResult } from './tar.js';
export { buildImage, importImageLayout, ociArchitecture, type ImageSpec, type BuiltImage } from './image.js';
export { MEDIA_TYPE, ANNOTATION, EMPTY_DIGEST } from './media-types.js';
