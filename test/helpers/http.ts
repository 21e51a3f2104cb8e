/** An HTTP answer read whole: its status, headers, text, and the text as JSON on demand. */
export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  json: () => any;
}

/** `fetch`, with the body read before returning, so a test can look at it more than once. */
export async function call(url: string, init: RequestInit = {}): Promise<HttpAnswer> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}
