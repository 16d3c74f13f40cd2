/**
 * Whether a file is stored in the archive as is rather than deflated: content
 * that is already compressed (images, audio, video, archives, PDFs, office
 * documents) gains nothing from deflate but costs a core, so it is stored;
 * text and anything unknown is deflated. Decided by the content type, falling
 * back to the name's extension when the type is missing or generic.
 */
const COMPRESSED_TYPES = [
  /^image\/(?!svg\+xml|bmp|x-ms-bmp|tiff|x-icon|vnd\.microsoft\.icon)/,
  /^audio\/(?!wav|x-wav|wave|aiff|x-aiff|basic)/,
  /^video\//,
  /^application\/(zip|gzip|x-gzip|x-7z-compressed|x-rar-compressed|vnd\.rar|x-bzip2|x-xz|zstd|x-zstd|x-tar\+gzip|pdf|epub\+zip|java-archive|vnd\.android\.package-archive)$/,
  /^application\/vnd\.openxmlformats-officedocument\./,
  /^application\/vnd\.oasis\.opendocument\./,
  /^font\/(woff2?)$/,
];

const COMPRESSED_EXTENSIONS = new Set(
  (
    'jpg jpeg png gif webp heic heif avif jxl mp3 m4a aac ogg oga opus flac wma mp4 m4v mov mkv webm avi wmv 3gp ' +
    'zip gz tgz bz2 xz zst 7z rar jar apk epub pdf docx xlsx pptx odt ods odp woff woff2'
  ).split(' '),
);

const GENERIC = new Set(['', 'application/octet-stream', 'binary/octet-stream', 'application/x-download']);

export function isAlreadyCompressed(contentType: string | undefined, name: string): boolean {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (!GENERIC.has(type)) return COMPRESSED_TYPES.some((pattern) => pattern.test(type));
  const dot = name.lastIndexOf('.');
  return dot !== -1 && COMPRESSED_EXTENSIONS.has(name.slice(dot + 1).toLowerCase());
}
