// Addresses the page moves between.

/** Only paths on this site: a crafted ?next=https://elsewhere must not send the user away. */
export function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/";
}

/** The detail page of an item, carrying the list it was opened from (for the arrow keys). */
export function itemHref(id: number, listQuery: string): string {
  return listQuery ? `/item/${id}?${listQuery}` : `/item/${id}`;
}

/** Whether a key event comes from a place that types text (arrow keys belong to it then). */
export function isTyping(target: EventTarget | null): boolean {
  if (!target || typeof (target as HTMLElement).tagName !== "string") return false;
  const el = target as HTMLElement;
  return el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName) ||
    (el.tagName === "VIDEO");
}
