import { consola, type ConsolaInstance } from "consola";

/** nodeLogger tags every line with the node id, so the logs of a local 3-node cluster stay readable. */
export function nodeLogger(id: number): ConsolaInstance {
  return consola.withTag(`node${id}`);
}
