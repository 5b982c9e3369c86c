import { useEffect, useState, type InputHTMLAttributes } from "react";

/** A text field that changes the search when left or on Enter, not on every key. */
export function CommitInput({ value, onCommit, ...rest }: { value: string; onCommit(v: string): void } &
  Omit<InputHTMLAttributes<HTMLInputElement>, "value" | "onChange">) {
  const [draft, setDraft] = useState(value);
  useEffect(() => setDraft(value), [value]);
  const commit = () => {
    if (draft !== value) onCommit(draft.trim());
  };
  return (
    <input {...rest} value={draft} onChange={(e) => setDraft(e.target.value)} onBlur={commit}
      onKeyDown={(e) => {
        if (e.key === "Enter") {
          e.preventDefault();
          commit();
        }
      }} />
  );
}
