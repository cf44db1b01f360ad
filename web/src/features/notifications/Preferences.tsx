// Notification preferences, in Settings: in the app and by e-mail, per category. Security e-mail stays on.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap, type Schemas } from "../../api/client";
import { NOTIFICATIONS, usePreferences } from "./queries";

const CATEGORIES: Array<[string, string]> = [
  ["security", "Security (sign-ins, passwords, API keys)"],
  ["budget", "Budget"],
  ["content", "Content (summaries, fetched paragraphs)"],
  ["announcements", "Announcements"],
  ["system", "System"],
];
const CHANNELS: Array<["in_app" | "email", string]> = [
  ["in_app", "In the app"],
  ["email", "By e-mail"],
];

type Preferences = Schemas["PreferencesResponse"];
const KEY = [...NOTIFICATIONS, "preferences"];

/** Security e-mail cannot be turned off (the API refuses it): shown on and locked. */
export function locked(category: string, channel: string): boolean {
  return category === "security" && channel === "email";
}

export function NotificationPreferences() {
  const queryClient = useQueryClient();
  const preferences = usePreferences();
  const save = useMutation({
    mutationFn: async ({ category, channel, value }: { category: string; channel: string; value: boolean }) =>
      unwrap(await api.PUT("/api/v1/notifications/preferences", { body: { categories: { [category]: { [channel]: value } } } })),
    // Shown at once; put back as it was when the API refuses.
    onMutate: async ({ category, channel, value }) => {
      await queryClient.cancelQueries({ queryKey: KEY });
      const before = queryClient.getQueryData<Preferences>(KEY);
      if (before) {
        const categories = { ...before.categories, [category]: { ...before.categories[category], [channel]: value } };
        queryClient.setQueryData<Preferences>(KEY, { categories });
      }
      return { before };
    },
    onError: (_error, _change, context) => context?.before && queryClient.setQueryData(KEY, context.before),
    onSuccess: (data) => queryClient.setQueryData(KEY, data),
  });
  const categories = preferences.data?.categories ?? {};
  // What was just clicked, shown at once (in the click's own render): the cache is only updated after
  // cancelQueries resolves, and a refetch in flight (a new notification invalidates these queries) made
  // the box flip back under the pointer. Cleared when the save settles (the server's answer then shows).
  const [clicked, setClicked] = useState<Record<string, boolean>>({});
  return (
    <section aria-labelledby="preferences-title" className="card">
      <h2 id="preferences-title">Notifications</h2>
      {preferences.error && <p role="alert" className="error">{preferences.error.message}</p>}
      <table className="preferences">
        <caption className="visually-hidden">Where each kind of notification reaches you</caption>
        <thead>
          <tr>
            <th scope="col">Category</th>
            {CHANNELS.map(([channel, label]) => (
              <th scope="col" key={channel}>{label}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {CATEGORIES.filter(([category]) => category in categories).map(([category, label]) => (
            <tr key={category}>
              <th scope="row">{label}</th>
              {CHANNELS.map(([channel, channelLabel]) => {
                const isLocked = locked(category, channel);
                return (
                  <td key={channel}>
                    <input
                      type="checkbox"
                      aria-label={`${label}: ${channelLabel}${isLocked ? " (always on)" : ""}`}
                      checked={isLocked || (clicked[`${category}.${channel}`] ?? categories[category][channel])}
                      disabled={isLocked}
                      onChange={(e) => {
                        const key = `${category}.${channel}`;
                        const value = e.target.checked;
                        setClicked((shown) => ({ ...shown, [key]: value }));
                        save.mutate(
                          { category, channel, value },
                          { onSettled: () => setClicked(({ [key]: _settled, ...rest }) => rest) },
                        );
                      }}
                    />
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      {categories.security && <p className="meta">Security e-mail is always sent: it tells you when someone else may be in your account.</p>}
      {save.isSuccess && <p role="status">Preferences saved</p>}
      {save.error && <p role="alert" className="error">{save.error.message}</p>}
    </section>
  );
}
