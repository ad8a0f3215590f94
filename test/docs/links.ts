/** Links inside Markdown documents, checked the way GitHub renders them. */
import { anchor } from "../../scripts/docs/markdown.js";

/** GitHub's anchors of a document's headings (see `anchor`: lower case, punctuation dropped, spaces hyphens). */
export function headingAnchors(doc: string): Set<string> {
  return new Set([...doc.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchor(m[1])));
}

/** The `#fragment` links of a document that point inside it, and those among them that lead nowhere. */
export function internalLinks(doc: string): { links: string[]; broken: string[] } {
  const anchors = headingAnchors(doc);
  const links = [...doc.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]);
  return { links, broken: links.filter((l) => !anchors.has(l)) };
}
