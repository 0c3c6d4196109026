import { downloadBlob, safeFileName } from '../lib/util/download';
import { compressWorker } from './workers';

const CHUNK = 16 * 1024 * 1024;

interface DirectoryHandle {
  getDirectoryHandle(name: string, opts?: { create?: boolean }): Promise<DirectoryHandle>;
  getFileHandle(
    name: string,
    opts?: { create?: boolean },
  ): Promise<{ createWritable(): Promise<WritableStream & { write(d: BufferSource): Promise<void>; close(): Promise<void> }> }>;
}

/**
 * Saves a compressed variant as a Hugging Face folder (with `onnx/`): into a folder the person
 * picks where the browser allows it, else as individual downloads. Read in chunks from
 * IndexedDB, so a large model never sits whole in memory on the folder path.
 */
export async function saveVariantFolder(key: string, label: string): Promise<void> {
  const api = compressWorker();
  const files = await api.exportFiles(key);
  const folder = safeFileName(label);
  const picker = (window as unknown as { showDirectoryPicker?: (o: { mode: string }) => Promise<DirectoryHandle> }).showDirectoryPicker;
  if (picker) {
    const root = await (await picker({ mode: 'readwrite' })).getDirectoryHandle(folder, { create: true });
    for (const f of files) {
      const parts = f.path.split('/');
      let dir = root;
      for (const p of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(p, { create: true });
      const out = await (await dir.getFileHandle(parts.at(-1)!, { create: true })).createWritable();
      for (let at = 0; at < f.bytes; at += CHUNK)
        await out.write((await api.readExportChunk(key, f.path, at, Math.min(CHUNK, f.bytes - at))) as Uint8Array<ArrayBuffer>);
      await out.close();
    }
    return;
  }
  for (const f of files) {
    const parts: Uint8Array<ArrayBuffer>[] = [];
    for (let at = 0; at < f.bytes; at += CHUNK)
      parts.push((await api.readExportChunk(key, f.path, at, Math.min(CHUNK, f.bytes - at))) as Uint8Array<ArrayBuffer>);
    downloadBlob(`${folder}__${f.path.replace(/\//g, '__')}`, new Blob(parts));
  }
}
