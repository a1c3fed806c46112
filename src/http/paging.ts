import { badRequest } from './errors.js';

/** Up to nine digits, so that an offset stays an exact integer. */
const PAGE_NUMBER = /^\d{1,9}$/;
const MAX_PAGE = 999_999_999;

/**
 * The `page` query value of a paged list, 1 when absent. The server does not
 * coerce query strings, so it is parsed here: anything but a whole number from
 * 1 to MAX_PAGE written in digits is a 400 naming `page`.
 */
export function parsePage(raw: string | undefined): number {
  if (raw === undefined) return 1;
  const page = PAGE_NUMBER.test(raw) ? Number(raw) : 0;
  if (page < 1) throw badRequest(`page must be a whole number from 1 to ${MAX_PAGE}, got ${JSON.stringify(raw)}`);
  return page;
}

/** Where a page starts and how long it is, for a store query. */
export function pageWindow(page: number, pageSize: number): { readonly offset: number; readonly limit: number } {
  return { offset: (page - 1) * pageSize, limit: pageSize };
}

/** Pushwoosh's paged reply: `{"_metadata": {"page", "page_count", "total_count"}, "payload": {"items"}}`. */
export function pagedReply<T>(page: number, pageSize: number, total: number, items: T[]) {
  return { _metadata: { page, page_count: Math.ceil(total / pageSize), total_count: total }, payload: { items } };
}
