// The official ollama JavaScript client against apd (t/integration/apd_ollama.t):
//   node ollama_client.mjs HOST MODEL [TOKEN]
// pulls MODEL (stream: true, insecure: true), lists, deletes, lists again,
// deletes again (must fail), and prints one JSON summary on stdout.
import { Ollama } from 'ollama';

const [host, model, token] = process.argv.slice(2);
const ollama = new Ollama(token ? { host, headers: { Authorization: `Bearer ${token}` } }
                                : { host });
const out = { statuses: [], progress: [] };
try {
  const stream = await ollama.pull({ model, stream: true, insecure: true });
  for await (const part of stream) {
    out.statuses.push(part.status);
    if (part.total !== undefined)
      out.progress.push({ status: part.status, digest: part.digest,
                          total: part.total, completed: part.completed });
  }
  out.listed = (await ollama.list()).models.map((m) => ({ name: m.name, size: m.size,
                                                          digest: m.digest,
                                                          format: m.details?.format }));
  out.deleted = (await ollama.delete({ model })).status;
  out.listed_after = (await ollama.list()).models.map((m) => m.name);
  try {
    await ollama.delete({ model });
    out.second_delete = 'no error';
  } catch (e) {
    out.second_delete = { status: e.status_code, error: e.error ?? e.message };
  }
} catch (e) {
  out.error = String(e.message ?? e);
}
process.stdout.write(JSON.stringify(out) + '\n');
