import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { lazy, Suspense, type ReactNode } from "react";
import { BrowserRouter, Navigate, Route, Routes, useLocation } from "react-router";
import { AuthPage } from "../features/auth/AuthPage";
import { ChatPage } from "../features/chat/ChatPage";
import { Layout } from "./Layout";
import { can, type Permission } from "./permissions";
import { SessionProvider, useSession } from "./session";

// Everything but the chat is a chunk of its own: the chat route never loads the editor, charts or admin.
const KnowledgePage = lazy(() => import("../features/knowledge/KnowledgePage"));
const ArticleEditor = lazy(() => import("../features/knowledge/ArticleEditor"));
const SettingsPage = lazy(() => import("../features/settings/SettingsPage"));
const UsagePage = lazy(() => import("../features/usage/UsagePage"));
const InboxPage = lazy(() => import("../features/notifications/InboxPage"));
const AdminUsersPage = lazy(() => import("../features/admin/AdminUsersPage"));
const AnalyticsPage = lazy(() => import("../features/admin/AnalyticsPage"));
const ModerationPage = lazy(() => import("../features/admin/ModerationPage"));
const AuditPage = lazy(() => import("../features/admin/AuditPage"));
const SystemPage = lazy(() => import("../features/admin/SystemPage"));

export const queryClient = new QueryClient({
  defaultOptions: { queries: { staleTime: 10_000, retry: 1, refetchOnWindowFocus: false } },
});

function RequireSession({ children, permission }: { children: ReactNode; permission?: Permission }) {
  const { status, user } = useSession();
  const location = useLocation();
  if (status === "loading") return <p className="centered" role="status">Loading…</p>;
  if (status === "signed-out") return <Navigate to="/signin" replace state={{ from: location.pathname }} />;
  if (permission && !can(user, permission)) {
    return (
      <Layout>
        <p className="centered">This page is for staff with the {permission} permission.</p>
      </Layout>
    );
  }
  return <>{children}</>;
}

export function AppRoutes() {
  const page = (node: ReactNode, permission?: Permission) => (
    <RequireSession permission={permission}>
      <Layout>
        <Suspense fallback={<p role="status">Loading…</p>}>{node}</Suspense>
      </Layout>
    </RequireSession>
  );
  return (
    <Routes>
      <Route path="/signin" element={<AuthPage mode="signin" />} />
      <Route path="/register" element={<AuthPage mode="register" />} />
      <Route path="/" element={<Navigate to="/chat" replace />} />
      <Route path="/chat" element={page(<ChatPage />)} />
      <Route path="/chat/:conversationId" element={page(<ChatPage />)} />
      <Route path="/knowledge" element={page(<KnowledgePage />)} />
      <Route path="/knowledge/articles/new" element={page(<ArticleEditor />)} />
      <Route path="/knowledge/articles/:articleId" element={page(<ArticleEditor />)} />
      <Route path="/settings" element={page(<SettingsPage />)} />
      <Route path="/usage" element={page(<UsagePage />)} />
      <Route path="/notifications" element={page(<InboxPage />)} />
      <Route path="/admin/users" element={page(<AdminUsersPage />, "users:manage")} />
      <Route path="/admin/analytics" element={page(<AnalyticsPage />, "analytics:read")} />
      <Route path="/admin/moderation" element={page(<ModerationPage />, "moderation:manage")} />
      <Route path="/admin/audit" element={page(<AuditPage />, "audit:read")} />
      <Route path="/admin/system" element={page(<SystemPage />, "system:read")} />
      <Route path="*" element={page(<p>Nothing here. <a href="/chat">Back to the chat</a></p>)} />
    </Routes>
  );
}

export function App() {
  return (
    <QueryClientProvider client={queryClient}>
      <SessionProvider>
        <BrowserRouter>
          <AppRoutes />
        </BrowserRouter>
      </SessionProvider>
    </QueryClientProvider>
  );
}
