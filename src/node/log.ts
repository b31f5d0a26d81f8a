import { consola, type ConsolaInstance } from "consola";

/** nodeLog tags every line with the node id, so the logs of a local 3-node cluster stay readable. */
export function nodeLog(id: number): ConsolaInstance {
  return consola.withTag(`node${id}`);
}
