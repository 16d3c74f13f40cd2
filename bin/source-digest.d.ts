/** The digest of `srcDir`'s files (paths and contents), or null where there is no such directory. */
export function sourceDigest(srcDir: string): string | null;
