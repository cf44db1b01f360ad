// "Report": a member flags a message or a public article for the moderators, with a reason.
// Shared by the chat and the knowledge pages; it holds no admin code (that is a chunk of its own).
import * as Dialog from "@radix-ui/react-dialog";
import { useId, useState, type FormEvent } from "react";
import { api, problemText } from "../api/client";

export type ReportKind = "message" | "article";
const MAX_REASON = 1000;

export function ReportButton({ kind, id, what }: { kind: ReportKind; id: string; what: string }) {
  const reasonId = useId();
  const [open, setOpen] = useState(false);
  const [pending, setPending] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const reason = String(new FormData(event.currentTarget).get("reason")).trim();
    if (!reason) return setResult({ ok: false, text: "Say what is wrong with it." });
    setPending(true);
    const { error, response } = await api.POST("/api/v1/reports", { body: { kind, id, reason } });
    setPending(false);
    setResult(
      response.ok
        ? { ok: true, text: "Thank you: a moderator will look at it." }
        : { ok: false, text: problemText(error, "The report could not be sent.") },
    );
  }

  return (
    <Dialog.Root
      open={open}
      onOpenChange={(next) => {
        setOpen(next);
        if (next) setResult(null);
      }}
    >
      <Dialog.Trigger asChild>
        <button className="ghost small" aria-label={`Report ${what}`}>
          Report
        </button>
      </Dialog.Trigger>
      <Dialog.Portal>
        <Dialog.Overlay className="overlay" />
        <Dialog.Content className="dialog">
          <Dialog.Title>Report {what}</Dialog.Title>
          <Dialog.Description>Moderators will review it. Tell them what is wrong with it.</Dialog.Description>
          {result?.ok ? (
            <>
              <p role="status">{result.text}</p>
              <div className="row end">
                <Dialog.Close asChild>
                  <button>Close</button>
                </Dialog.Close>
              </div>
            </>
          ) : (
            <form onSubmit={submit}>
              <label htmlFor={reasonId}>
                Reason
                <textarea id={reasonId} name="reason" rows={3} maxLength={MAX_REASON} required />
              </label>
              {result && (
                <p role="alert" className="error">
                  {result.text}
                </p>
              )}
              <div className="row end">
                <Dialog.Close asChild>
                  <button type="button" className="ghost">
                    Cancel
                  </button>
                </Dialog.Close>
                <button type="submit" className="primary" disabled={pending}>
                  Send report
                </button>
              </div>
            </form>
          )}
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}
