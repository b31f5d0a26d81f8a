/**
 * HttpMetrics counts answered requests per route and status class with preallocated counters: the hot path only
 * bumps an array slot, and the Prometheus text is built when /metrics is scraped.
 */
/**
 * duration_bounds_s: upper bounds of qklzl_http_request_duration_seconds (time to the response's headers), from
 * a loopback read (~0.1 ms) to a write waiting out a slow fsync or an election (seconds).
 */
const duration_bounds_s = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class HttpMetrics {
  readonly #routes: string[];
  /** counts[route * 5 + class]: class 0..4 stands for 1xx..5xx. */
  readonly #counts: Float64Array;
  /** durations[route * (bounds + 1) + bucket]: non-cumulative; the last bucket is +Inf. */
  readonly #durations: Float64Array;
  readonly #durationSums: Float64Array;
  #forwarded = 0;
  #forwardFailures = 0;

  constructor(routes: string[]) {
    this.#routes = routes;
    this.#counts = new Float64Array(routes.length * 5);
    this.#durations = new Float64Array(routes.length * (duration_bounds_s.length + 1));
    this.#durationSums = new Float64Array(routes.length);
  }

  routeIndex(route: string): number {
    const index = this.#routes.indexOf(route);
    if (index < 0) throw new Error(`unknown route ${route}`);
    return index;
  }

  /** count records one answered request: its status and how long it took until its response was ready. */
  count(routeIndex: number, status: number, seconds = 0): void {
    const statusClass = Math.min(Math.max(Math.floor(status / 100) - 1, 0), 4);
    this.#counts[routeIndex * 5 + statusClass]! += 1;
    let bucket = 0;
    while (bucket < duration_bounds_s.length && seconds > duration_bounds_s[bucket]!) bucket++;
    this.#durations[routeIndex * (duration_bounds_s.length + 1) + bucket]! += 1;
    this.#durationSums[routeIndex]! += seconds;
  }

  forwarded(ok: boolean): void {
    if (ok) this.#forwarded += 1;
    else this.#forwardFailures += 1;
  }

  text(): string {
    const lines = [
      "# HELP qklzl_http_requests_total HTTP requests answered, by route and status class.",
      "# TYPE qklzl_http_requests_total counter",
    ];
    for (let route = 0; route < this.#routes.length; route++) {
      for (let statusClass = 0; statusClass < 5; statusClass++) {
        const value = this.#counts[route * 5 + statusClass]!;
        if (value === 0) continue;
        lines.push(`qklzl_http_requests_total{route="${this.#routes[route]}",code="${statusClass + 1}xx"} ${value}`);
      }
    }
    lines.push(
      "# HELP qklzl_http_request_duration_seconds Time from a request's arrival to its response (headers), by route.",
      "# TYPE qklzl_http_request_duration_seconds histogram",
    );
    const width = duration_bounds_s.length + 1;
    for (let route = 0; route < this.#routes.length; route++) {
      let cumulative = 0;
      for (let bucket = 0; bucket < width; bucket++) cumulative += this.#durations[route * width + bucket]!;
      if (cumulative === 0) continue;
      const label = `route="${this.#routes[route]}"`;
      cumulative = 0;
      for (let bucket = 0; bucket < width; bucket++) {
        cumulative += this.#durations[route * width + bucket]!;
        const le = bucket < duration_bounds_s.length ? String(duration_bounds_s[bucket]) : "+Inf";
        lines.push(`qklzl_http_request_duration_seconds_bucket{${label},le="${le}"} ${cumulative}`);
      }
      lines.push(`qklzl_http_request_duration_seconds_sum{${label}} ${this.#durationSums[route]}`);
      lines.push(`qklzl_http_request_duration_seconds_count{${label}} ${cumulative}`);
    }
    lines.push(
      "# HELP qklzl_http_forwarded_total Requests this node forwarded to the leader, by outcome.",
      "# TYPE qklzl_http_forwarded_total counter",
      `qklzl_http_forwarded_total{result="ok"} ${this.#forwarded}`,
      `qklzl_http_forwarded_total{result="error"} ${this.#forwardFailures}`,
    );
    return `${lines.join("\n")}\n`;
  }
}
