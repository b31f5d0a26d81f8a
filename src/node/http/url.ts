/** RequestTarget is the part of a request URL the routes need, cut once per request without a URL object. */
export interface RequestTarget {
  /** path: "/kv" */
  path: string;
  /** pathAndQuery: "/kv?key=a", what a redirect or a forward to the leader repeats. */
  pathAndQuery: string;
  /** query: "key=a" (no "?"), "" when absent. */
  query: string;
}

/** requestTarget splits Bun's absolute req.url ("http://host:port/kv?key=a") into path and query. */
export function requestTarget(url: string): RequestTarget {
  const schemeEnd = url.indexOf("://");
  const pathStart = url.indexOf("/", schemeEnd < 0 ? 0 : schemeEnd + 3);
  const pathAndQuery = pathStart < 0 ? "/" : url.slice(pathStart);
  const questionMark = pathAndQuery.indexOf("?");
  if (questionMark < 0) return { path: pathAndQuery, pathAndQuery, query: "" };
  return {
    path: pathAndQuery.slice(0, questionMark),
    pathAndQuery,
    query: pathAndQuery.slice(questionMark + 1),
  };
}

/** plain_key_query: a query that is only `key=VALUE` where VALUE has nothing URLSearchParams would decode or split. */
const plain_key_query = /^key=[^%+&=]*$/;

/**
 * plainKey: for the common `GET /kv?key=K` (one parameter, no escapes), K exactly as URLSearchParams would give it,
 * without building one (a few µs per read on the leader, issue 16); null for any other query (use URLSearchParams).
 */
export function plainKey(query: string): string | null {
  return plain_key_query.test(query) ? query.slice(4) : null;
}

/** withoutParam drops one query parameter (e.g. forward=true, so a forwarded write is not forwarded again). */
export function withoutParam(target: RequestTarget, name: string): string {
  if (target.query.length === 0) return target.pathAndQuery;
  const params = new URLSearchParams(target.query);
  if (!params.has(name)) return target.pathAndQuery;
  params.delete(name);
  const rest = params.toString();
  return rest.length === 0 ? target.path : `${target.path}?${rest}`;
}
