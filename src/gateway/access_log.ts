/** One access-log line (snake_case fields; never a credential). */
export interface AccessEntry {
  request_id: string;
  route: string;
  method: string;
  path: string;
  status: number;
  duration_ms: number;
  client_ip: string;
  /** From handing the request to the upstream to the end of its answer (nginx's `$upstream_response_time`, in ms). */
  upstream_ms?: number;
  /** On a route with a canary: the upstream drawn for the request (the primary or the canary). */
  upstream?: string;
  /** The client's User-Agent, at most 256 characters. */
  user_agent?: string;
  sub?: string;
  client_id?: string;
  /** `2.0` on an HTTP/2 request (absent on HTTP/1.1). */
  http_version?: '2.0';
  /** A gRPC call's status: the gateway's refusal or the upstream's `grpc-status` trailer (the HTTP status is 200). */
  grpc_status?: number;
}
