// A person's avatar: their picture (the API's `avatar_url`, at the size asked for) or their initials.
import { useState } from "react";
import type { User } from "../api/client";

/** `avatar_url` at 64 or 256 pixels (the URL names the upload, so the browser may cache it for good). */
export function avatarSrc(url: string, size: 64 | 256): string {
  const [path, query = ""] = url.split("?");
  const params = new URLSearchParams(query);
  params.set("size", String(size));
  return `${path}?${params.toString()}`;
}

function initials(name: string): string {
  const letters = name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((word) => [...word][0]?.toUpperCase() ?? "");
  return letters.join("") || "?";
}

/** Decorative by default (shown beside the name); pass `label` where the picture stands alone. */
export function Avatar({ user, size, label }: { user: User; size: 64 | 256; label?: string }) {
  const px = size === 64 ? 28 : 96;
  // The picture that failed to load (removed from another device, say): initials instead of a broken image.
  const [failed, setFailed] = useState<string | null>(null);
  if (user.avatar_url && failed !== user.avatar_url) {
    const url = user.avatar_url;
    return (
      <img
        onError={() => setFailed(url)}
        className="avatar"
        src={avatarSrc(user.avatar_url, size)}
        width={px}
        height={px}
        alt={label ?? ""}
        data-testid="avatar"
      />
    );
  }
  return (
    <span className="avatar initials" style={{ width: px, height: px }} aria-hidden={label ? undefined : true} role={label ? "img" : undefined} aria-label={label}>
      {initials(user.display_name)}
    </span>
  );
}
