// `$batch` as Dataverse documents it (reference/crm.md §A.7): multipart/mixed with change sets (atomic: any
// failure undoes the whole set), `Content-ID` references (`$1` in a URL or an @odata.bind), no GET inside a
// change set, at most 1000 requests, and `Prefer: odata.continue-on-error`. Without that preference the first
// failure stops processing and becomes the batch's status.
import { randomUUID } from 'node:crypto';
import { type ApiContext, type ApiRequest, type ApiResponse, entityUrl } from './api.ts';
import { badRequest, DataverseError } from './errors.ts';

export const MAX_BATCH_REQUESTS = 1000;

interface Part {
  headers: Record<string, string>;
  content: string;
}

interface InnerRequest {
  contentId?: string;
  method: string;
  target: string;
  headers: Record<string, string>;
  body: string;
}

type Item = { kind: 'single'; request: InnerRequest } | { kind: 'changeset'; requests: InnerRequest[] };

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  304: 'Not Modified',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  412: 'Precondition Failed',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
};

export function boundaryOf(contentType: string | undefined): string | undefined {
  const match = /boundary\s*=\s*"?([^";]+)"?/i.exec(contentType ?? '');
  return match?.[1];
}

function splitHeaders(text: string): { headers: Record<string, string>; rest: string } {
  const normalized = text.replace(/^\r?\n/, '');
  const end = normalized.search(/\r?\n\r?\n/);
  const head = end < 0 ? normalized : normalized.slice(0, end);
  const rest = end < 0 ? '' : normalized.slice(end).replace(/^\r?\n\r?\n/, '');
  const headers: Record<string, string> = {};
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, rest };
}

function parts(body: string, boundary: string): Part[] {
  const delimiter = `--${boundary}`;
  const chunks = body.split(delimiter);
  const out: Part[] = [];
  for (const chunk of chunks.slice(1)) {
    if (chunk.startsWith('--')) break;
    const { headers, rest } = splitHeaders(chunk);
    out.push({ headers, content: rest.replace(/\r?\n$/, '') });
  }
  return out;
}

function innerRequest(part: Part): InnerRequest {
  if (!/application\/http/i.test(part.headers['content-type'] ?? '')) {
    throw badRequest('Each $batch part needs Content-Type: application/http.');
  }
  const lines = part.content.replace(/^\r?\n/, '');
  const firstBreak = lines.search(/\r?\n/);
  const requestLine = (firstBreak < 0 ? lines : lines.slice(0, firstBreak)).trim();
  const match = /^([A-Z]+)\s+(\S+)\s+HTTP\/1\.1$/.exec(requestLine);
  if (!match) throw badRequest(`Bad request line in a $batch part: '${requestLine}'.`);
  const { headers, rest } = splitHeaders(firstBreak < 0 ? '' : lines.slice(firstBreak));
  return {
    ...(part.headers['content-id'] ? { contentId: part.headers['content-id'] } : {}),
    method: match[1]!,
    target: match[2]!,
    headers,
    body: rest.trim(),
  };
}

export function parseBatch(body: string, boundary: string): Item[] {
  const items: Item[] = [];
  for (const part of parts(body, boundary)) {
    const nested = boundaryOf(part.headers['content-type']);
    if (/multipart\/mixed/i.test(part.headers['content-type'] ?? '') && nested) {
      const requests = parts(part.content, nested).map(innerRequest);
      for (const r of requests) {
        if (r.method === 'GET')
          throw badRequest('A change set cannot contain a GET request: put it outside the change set.');
      }
      items.push({ kind: 'changeset', requests });
    } else {
      items.push({ kind: 'single', request: innerRequest(part) });
    }
  }
  const count = items.reduce((n, item) => n + (item.kind === 'single' ? 1 : item.requests.length), 0);
  if (count > MAX_BATCH_REQUESTS) {
    throw badRequest(`The batch has ${count} requests; Dataverse accepts at most ${MAX_BATCH_REQUESTS}.`);
  }
  return items;
}

export type Execute = (ctx: ApiContext, request: ApiRequest) => Promise<ApiResponse>;

function toApiRequest(ctx: ApiContext, inner: InnerRequest, contentIds: Map<string, string>): ApiRequest {
  let target = inner.target;
  const reference = /^\$(\w+)(.*)$/.exec(target);
  if (reference) {
    const resolved = contentIds.get(reference[1]!);
    if (!resolved)
      throw badRequest(
        `Content-ID reference '$${reference[1]}' does not name an earlier request of this change set.`,
      );
    target = resolved + reference[2];
  }
  const url = new URL(target, `${ctx.orgUrl}/api/data/v9.2/`);
  let body: unknown;
  if (inner.body) {
    try {
      body = JSON.parse(inner.body);
    } catch {
      throw badRequest('A $batch part has a body that is not valid JSON.');
    }
  }
  return { method: inner.method, url, headers: inner.headers, body };
}

function renderResponse(response: ApiResponse, contentId?: string): string {
  const lines = ['Content-Type: application/http', 'Content-Transfer-Encoding: binary'];
  if (contentId) lines.push(`Content-ID: ${contentId}`);
  lines.push('', `HTTP/1.1 ${response.status} ${STATUS_TEXT[response.status] ?? ''}`.trim());
  for (const [name, value] of Object.entries(response.headers)) lines.push(`${name}: ${value}`);
  lines.push('OData-Version: 4.0');
  if (response.body !== undefined) {
    lines.push('Content-Type: application/json; odata.metadata=minimal', '', JSON.stringify(response.body));
  } else {
    lines.push('', '');
  }
  return lines.join('\r\n');
}

function errorResponse(error: unknown): ApiResponse {
  if (error instanceof DataverseError)
    return { status: error.status, headers: error.headers, body: error.body() };
  throw error;
}

export interface BatchResult {
  status: number;
  contentType: string;
  body: string;
  /** Inner requests executed (they count against service protection limits like single ones). */
  requests: number;
}

export async function runBatch(
  ctx: ApiContext,
  items: Item[],
  continueOnError: boolean,
  execute: Execute,
): Promise<BatchResult> {
  const boundary = `batchresponse_${randomUUID()}`;
  const out: string[] = [];
  let status = 200;
  let requests = 0;
  for (const item of items) {
    if (item.kind === 'single') {
      requests++;
      let response: ApiResponse;
      try {
        response = await execute(ctx, toApiRequest(ctx, item.request, new Map()));
      } catch (error) {
        response = errorResponse(error);
      }
      out.push(`--${boundary}\r\n${renderResponse(response)}`);
      if (response.status >= 400 && !continueOnError) {
        status = response.status;
        break;
      }
      continue;
    }
    const contentIds = new Map<string, string>();
    const responses: { response: ApiResponse; contentId?: string }[] = [];
    let failure: { response: ApiResponse; contentId?: string } | undefined;
    try {
      await ctx.store.atomically(async () => {
        for (const inner of item.requests) {
          requests++;
          const request = toApiRequest(ctx, inner, contentIds);
          let response: ApiResponse;
          try {
            response = await execute({ ...ctx, contentIds }, request);
          } catch (error) {
            failure = {
              response: errorResponse(error),
              ...(inner.contentId ? { contentId: inner.contentId } : {}),
            };
            throw error;
          }
          const location = response.headers['OData-EntityId'];
          if (inner.contentId && location) contentIds.set(inner.contentId, location);
          responses.push({ response, ...(inner.contentId ? { contentId: inner.contentId } : {}) });
        }
      });
    } catch (error) {
      if (!failure) throw error;
    }
    if (failure) {
      // The change set was rolled back: its answer is the failing request alone.
      out.push(`--${boundary}\r\n${renderResponse(failure.response, failure.contentId)}`);
      if (!continueOnError) {
        status = failure.response.status;
        break;
      }
      continue;
    }
    const changeset = `changesetresponse_${randomUUID()}`;
    const inner = responses.map(
      ({ response, contentId }) => `--${changeset}\r\n${renderResponse(response, contentId)}`,
    );
    out.push(
      `--${boundary}\r\nContent-Type: multipart/mixed; boundary=${changeset}\r\n\r\n${inner.join('\r\n')}\r\n--${changeset}--`,
    );
  }
  return {
    status,
    contentType: `multipart/mixed; boundary=${boundary}`,
    body: `${out.join('\r\n')}\r\n--${boundary}--\r\n`,
    requests,
  };
}

export { entityUrl };
