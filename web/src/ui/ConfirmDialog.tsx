import * as Dialog from "@radix-ui/react-dialog";
import type { ReactNode } from "react";

/** An accessible confirmation (focus trapped, Esc closes, labelled) built on Radix Dialog. */
export function ConfirmDialog({
  trigger,
  title,
  description,
  confirm,
  onConfirm,
}: {
  trigger: ReactNode;
  title: string;
  description: string;
  confirm: string;
  onConfirm: () => void;
}) {
  return (
    <Dialog.Root>
      <Dialog.Trigger asChild>{trigger}</Dialog.Trigger>
      <Dialog.Portal>
        <Dialog.Overlay className="overlay" />
        <Dialog.Content className="dialog">
          <Dialog.Title>{title}</Dialog.Title>
          <Dialog.Description>{description}</Dialog.Description>
          <div className="row end">
            <Dialog.Close asChild>
              <button className="ghost">Cancel</button>
            </Dialog.Close>
            <Dialog.Close asChild>
              <button className="danger" onClick={onConfirm}>
                {confirm}
              </button>
            </Dialog.Close>
          </div>
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}
