/** A small JSON-over-HTTP client for the black-box suite: status, headers and parsed body. */

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  /** The body parsed as JSON, or `undefined` when it is not JSON. */
  body: T;
  text: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  message: string;
  errors?: { field: string; message: string }[];
}

export interface RequestOptions {
  token?: string;
  headers?: Record<string, string>;
  /** Serialised as JSON; a string is sent as is (for malformed bodies). */
  body?: unknown;
}

export function createApiClient(baseUrl: string, requestTimeoutMs: number) {
  async function request<T = unknown>(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { accept: "application/json", ...options.headers };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    let payload: string | undefined;
    if (options.body !== undefined) {
      payload = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
      headers["content-type"] ??= "application/json";
    }
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers,
      ...(payload !== undefined ? { body: payload } : {}),
      signal: AbortSignal.timeout(requestTimeoutMs),
    });
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: response.status, headers: response.headers, body: body as T, text };
  }
  return {
    get: <T = unknown>(path: string, options?: RequestOptions) => request<T>("GET", path, options),
    post: <T = unknown>(path: string, options?: RequestOptions) => request<T>("POST", path, options),
    patch: <T = unknown>(path: string, options?: RequestOptions) => request<T>("PATCH", path, options),
    delete: <T = unknown>(path: string, options?: RequestOptions) => request<T>("DELETE", path, options),
  };
}

export type ApiClient = ReturnType<typeof createApiClient>;
