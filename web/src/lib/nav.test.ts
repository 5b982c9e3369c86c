import { describe, expect, it } from "vitest";
import { isTyping, itemHref, safeNext } from "./nav";

describe("navigation", () => {
  it("only goes back to paths on this site after a login", () => {
    expect(safeNext("/item/4?q=cat")).toBe("/item/4?q=cat");
    expect(safeNext(null)).toBe("/");
    expect(safeNext("https://evil.example/")).toBe("/");
    expect(safeNext("//evil.example/")).toBe("/");
    expect(safeNext("/\\evil.example")).toBe("/");
  });

  it("links an item with its list", () => {
    expect(itemHref(5, "q=cat")).toBe("/item/5?q=cat");
    expect(itemHref(5, "")).toBe("/item/5");
  });

  it("leaves arrow keys to text fields", () => {
    expect(isTyping({ tagName: "INPUT" } as unknown as EventTarget)).toBe(true);
    expect(isTyping({ tagName: "DIV", isContentEditable: false } as unknown as EventTarget)).toBe(false);
    expect(isTyping(null)).toBe(false);
  });
});
