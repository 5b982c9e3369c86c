// Files out of a drop: plain files, and whole folders walked through the File System entries API.

export interface Dropped {
  file: File;
  path: string; // the path inside the dropped folder, or the name
}

interface Entry {
  isFile: boolean;
  isDirectory: boolean;
  name: string;
  fullPath: string;
  file?(ok: (f: File) => void, fail: (e: unknown) => void): void;
  createReader?(): { readEntries(ok: (entries: Entry[]) => void, fail: (e: unknown) => void): void };
}

async function walk(entry: Entry, out: Dropped[]): Promise<void> {
  if (entry.isFile && entry.file) {
    const file = await new Promise<File>((resolve, reject) => entry.file!(resolve, reject));
    out.push({ file, path: entry.fullPath.replace(/^\//, "") || file.name });
  } else if (entry.isDirectory && entry.createReader) {
    const reader = entry.createReader();
    // readEntries answers in batches (100 in Chromium) until it answers with none.
    for (;;) {
      const batch = await new Promise<Entry[]>((resolve, reject) => reader.readEntries(resolve, reject));
      if (batch.length === 0) break;
      for (const child of batch) await walk(child, out);
    }
  }
}

/** Hidden files (.DS_Store, ._name from macOS) are left out of folders. */
export function wanted(path: string): boolean {
  return !path.split("/").some((part) => part.startsWith("."));
}

export async function filesFromDrop(data: DataTransfer): Promise<Dropped[]> {
  const out: Dropped[] = [];
  const entries: Entry[] = [];
  for (const item of Array.from(data.items ?? [])) {
    const entry = (item as DataTransferItem & { webkitGetAsEntry?(): Entry | null }).webkitGetAsEntry?.();
    if (entry) entries.push(entry);
  }
  if (entries.length === 0) {
    return Array.from(data.files).map((file) => ({ file, path: file.name }));
  }
  for (const entry of entries) await walk(entry, out);
  return out.filter((d) => wanted(d.path));
}

export function filesFromInput(list: FileList | null): Dropped[] {
  return Array.from(list ?? []).map((file) => ({
    file, path: (file as File & { webkitRelativePath?: string }).webkitRelativePath || file.name,
  })).filter((d) => wanted(d.path));
}
