// Your avatar: pick a picture, see it, upload it (the API checks it and says why when it refuses:
// 422 not a picture it reads, 413 over 2 MiB), or remove the one you have.
import { useMutation } from "@tanstack/react-query";
import { useEffect, useId, useRef, useState } from "react";
import { api, problemText } from "../../api/client";
import { useSession } from "../../app/session";
import { Avatar } from "../../ui/Avatar";
import { ConfirmDialog } from "../../ui/ConfirmDialog";

/** What to tell the person when the API refused: its problem detail, else what the status means. */
function refusal(error: unknown, status: number): string {
  if (status === 413) return problemText(error, "The picture is too large: at most 2 MiB.");
  if (status === 422) return problemText(error, "That file is not a PNG, JPEG or WebP picture.");
  return problemText(error, "The avatar could not be saved.");
}

export function AvatarEditor() {
  const { user, reloadUser } = useSession();
  const inputId = useId();
  const input = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [preview, setPreview] = useState<string | null>(null);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);

  useEffect(() => {
    if (!file) return setPreview(null);
    const url = URL.createObjectURL(file);
    setPreview(url);
    return () => URL.revokeObjectURL(url);
  }, [file]);

  const upload = useMutation({
    mutationFn: async (picture: File) => {
      // The body is the file itself (the API tells the format by its bytes), not JSON.
      const { error, response } = await api.PUT("/api/v1/users/me/avatar", {
        body: picture as unknown as string,
        bodySerializer: (body: unknown) => body as BodyInit,
        headers: { "Content-Type": "application/octet-stream" },
      });
      if (!response.ok) throw new Error(refusal(error, response.status));
    },
    onSuccess: async () => {
      setFile(null);
      if (input.current) input.current.value = "";
      setMessage({ ok: true, text: "Avatar saved" });
      await reloadUser();
    },
    onError: (error) => setMessage({ ok: false, text: error.message }),
  });
  const remove = useMutation({
    mutationFn: async () => {
      const { error, response } = await api.DELETE("/api/v1/users/me/avatar");
      if (!response.ok) throw new Error(problemText(error, "The avatar could not be removed."));
    },
    onSuccess: async () => {
      setMessage({ ok: true, text: "Avatar removed" });
      await reloadUser();
    },
    onError: (error) => setMessage({ ok: false, text: error.message }),
  });

  if (!user) return null;
  const profile = user;
  return (
    <div className="avatar-editor">
      {preview ? (
        <img className="avatar" src={preview} width={96} height={96} alt="Preview of the new avatar" />
      ) : (
        <Avatar user={profile} size={256} label={profile.avatar_url ? "Your avatar" : "No avatar yet"} />
      )}
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          if (file) upload.mutate(file);
        }}
      >
        <label htmlFor={inputId}>
          Avatar picture (PNG, JPEG or WebP, at most 2 MiB)
          <input
            ref={input}
            id={inputId}
            type="file"
            accept="image/png,image/jpeg,image/webp"
            onChange={(e) => {
              setMessage(null);
              setFile(e.currentTarget.files?.[0] ?? null);
            }}
          />
        </label>
        <button type="submit" disabled={!file || upload.isPending}>
          {upload.isPending ? "Uploading…" : "Upload avatar"}
        </button>
        {profile.avatar_url && (
          <ConfirmDialog
            trigger={
              <button type="button" className="danger" disabled={remove.isPending}>
                Remove avatar
              </button>
            }
            title="Remove your avatar?"
            description="Your initials are shown instead."
            confirm="Remove"
            onConfirm={() => remove.mutate()}
          />
        )}
      </form>
      {message && (
        <p role={message.ok ? "status" : "alert"} className={message.ok ? undefined : "error"}>
          {message.text}
        </p>
      )}
    </div>
  );
}
