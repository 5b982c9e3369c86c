// Admin: queues and jobs, failed jobs with their errors (retry one, requeue many), files the ingester
// refused, users, and the RabbitMQ console (nginx lets admins through to /rabbitmq/).
import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { api, messageOf } from "../api/client";
import type { AdminStatus, AdminUser, Job, Page, Rejection, Role } from "../api/types";
import { formatDateTime } from "../lib/format";
import { useApi } from "../lib/hooks";

const n = (v: number | null | undefined) => (v === null || v === undefined ? "–" : v.toLocaleString("en"));

export default function AdminPage() {
  const status = useApi<AdminStatus>("/api/admin/status");
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const s = status.data;
  const analyzers = s ? Object.keys(s.jobs) : [];

  async function run(action: () => Promise<unknown>, done: string) {
    setError(null);
    try {
      await action();
      setMessage(done);
      status.reload();
    } catch (e) {
      setError(messageOf(e));
    }
  }

  return (
    <section className="page" aria-labelledby="admin-title">
      <div className="toolbar">
        <h1 id="admin-title">Admin</h1>
        <a href="/rabbitmq/" target="_blank" rel="noopener">RabbitMQ console ↗</a>
        <a href="/api/docs" target="_blank" rel="noopener">API docs ↗</a>
        <button type="button" onClick={status.reload}>Refresh</button>
      </div>
      {message && <p className="notice" role="status">{message}</p>}
      {error && <p className="error" role="alert">{error}</p>}
      {status.error && <p className="error" role="alert">{status.error}</p>}
      {s && (
        <>
          <section className="card" aria-labelledby="queues-title">
            <h2 id="queues-title">Queues <span className="small muted">({s.broker.source}{s.broker.error ? `: ${s.broker.error}` : ""}; outbox {s.outbox})</span></h2>
            <div className="table-wrap"><table>
              <thead><tr><th scope="col">Analysis</th><th scope="col">Ready</th><th scope="col">Unacked</th><th scope="col">Consumers</th>
                <th scope="col">Retrying</th><th scope="col">Dead</th><th scope="col">Pending</th><th scope="col">Queued</th><th scope="col">Running</th>
                <th scope="col">Done</th><th scope="col">Failed</th><th scope="col">Requeue</th></tr></thead>
              <tbody>
                {s.queues.map((q) => {
                  const j: Partial<Record<"pending" | "queued" | "running" | "done" | "failed", number>> = s.jobs[q.analysis] ?? {};
                  return (
                    <tr key={q.queue}>
                      <th scope="row">{q.analysis}</th><td>{n(q.ready)}</td><td>{n(q.unacked)}</td><td>{n(q.consumers)}</td><td>{n(q.retrying)}</td>
                      <td>{n(q.dead_lettered)}</td><td>{n(j.pending)}</td><td>{n(j.queued)}</td><td>{n(j.running)}</td><td>{n(j.done)}</td><td>{n(j.failed)}</td>
                      <td className="row-buttons">
                        {(["failed", "missing", "all"] as const).map((mode) => (
                          <button key={mode} type="button" className="small" onClick={() => {
                            if (mode === "all" && !window.confirm(`Run ${q.analysis} again on every item?`)) return;
                            void run(async () => {
                              const r = await api.post<{ queued: number }>("/api/admin/requeue", { analyzer: q.analysis, mode });
                              setMessage(`${q.analysis}: ${r?.queued ?? 0} queued (${mode})`);
                            }, `${q.analysis}: requeued (${mode})`);
                          }}>{mode}</button>
                        ))}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table></div>
          </section>
          <FailedJobs analyzers={analyzers} onRetry={(id) => run(() => api.post(`/api/admin/jobs/${id}/retry`), `Job ${id} queued again`)} />
        </>
      )}
      <Rejections />
      <Users />
    </section>
  );
}

function FailedJobs({ analyzers, onRetry }: { analyzers: string[]; onRetry(id: number): Promise<void> }) {
  const [analyzer, setAnalyzer] = useState("");
  const [state, setState] = useState("failed");
  const [cursor, setCursor] = useState<string | null>(null);
  const jobs = useApi<Page<Job>>("/api/admin/jobs", { state, analyzer: analyzer || undefined, cursor: cursor ?? undefined, limit: 100 });
  return (
    <section className="card" aria-labelledby="jobs-title">
      <h2 id="jobs-title">Jobs</h2>
      <div className="toolbar">
        <label>State <select value={state} onChange={(e) => { setState(e.target.value); setCursor(null); }}>
          {["failed", "running", "queued", "pending", "done"].map((v) => <option key={v}>{v}</option>)}
        </select></label>
        <label>Analysis <select value={analyzer} onChange={(e) => { setAnalyzer(e.target.value); setCursor(null); }}>
          <option value="">all</option>
          {analyzers.map((a) => <option key={a}>{a}</option>)}
        </select></label>
      </div>
      {jobs.error && <p className="error">{jobs.error}</p>}
      {jobs.data?.items.length === 0 && <p className="muted">No {state} jobs.</p>}
      <ul className="jobs-list">
        {jobs.data?.items.map((j) => (
          <li key={j.id}>
            <p><strong>{j.analyzer}</strong> on <Link to={`/item/${j.media_id}`}>{j.name || `item ${j.media_id}`}</Link>
              {" "}<span className="small muted">{j.state}, {j.attempts} attempts, {formatDateTime(j.updated_at)}</span>
              {j.state === "failed" && <button type="button" className="small" onClick={() => void onRetry(j.id).then(jobs.reload)}>Retry</button>}</p>
            {j.error && <pre className="job-error">{j.error}</pre>}
          </li>
        ))}
      </ul>
      <div className="row-buttons">
        {cursor && <button type="button" onClick={() => setCursor(null)}>First page</button>}
        {jobs.data?.next_cursor && <button type="button" onClick={() => setCursor(jobs.data!.next_cursor)}>Next page</button>}
      </div>
    </section>
  );
}

function Rejections() {
  const rejections = useApi<Page<Rejection>>("/api/admin/rejections");
  return (
    <section className="card" aria-labelledby="rej-title">
      <h2 id="rej-title">Refused files</h2>
      {rejections.error && <p className="error">{rejections.error}</p>}
      {rejections.data?.items.length === 0 && <p className="muted">None.</p>}
      <ul className="jobs-list">
        {rejections.data?.items.map((r, i) => (
          <li key={r.id ?? i}><code>{r.original_path}</code>: {r.reason}{r.detail ? ` (${r.detail})` : ""}
            {r.quarantine_path && <span className="small muted"> in {r.quarantine_path}</span>}</li>
        ))}
      </ul>
    </section>
  );
}

function Users() {
  const users = useApi<AdminUser[]>("/api/admin/users");
  const list = users.data ?? [];
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [password, setPassword] = useState("");
  const [shown, setShown] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function act(action: () => Promise<unknown>) {
    setError(null);
    try {
      await action();
      users.reload();
    } catch (e) {
      setError(messageOf(e));
    }
  }

  function create(e: FormEvent) {
    e.preventDefault();
    void act(async () => {
      const r = await api.post<{ user: AdminUser; password?: string | null }>("/api/admin/users", { name, role, password: password || undefined });
      setShown(r?.password ? `Password for ${name}: ${r.password} (shown once)` : `User ${name} created`);
      setName("");
      setPassword("");
    });
  }

  return (
    <section className="card" aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      {error && <p className="error" role="alert">{error}</p>}
      {shown && <p className="notice" role="status"><code>{shown}</code></p>}
      <div className="table-wrap"><table>
        <thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Last login</th><th scope="col">Actions</th></tr></thead>
        <tbody>
          {list.map((u) => (
            <tr key={u.id} className={u.disabled ? "muted" : ""}>
              <th scope="row">{u.name}{u.disabled ? " (disabled)" : ""}</th>
              <td><select aria-label={`Role of ${u.name}`} value={u.role} onChange={(e) => void act(() => api.patch(`/api/admin/users/${u.id}`, { role: e.target.value }))}>
                <option>viewer</option><option>editor</option><option>admin</option></select></td>
              <td>{formatDateTime(u.last_login_at)}</td>
              <td className="row-buttons">
                <button type="button" className="small" onClick={() => void act(() => api.patch(`/api/admin/users/${u.id}`, { disabled: !u.disabled }))}>
                  {u.disabled ? "Enable" : "Disable"}</button>
                <button type="button" className="small" onClick={() => void act(async () => {
                  const r = await api.post<{ password?: string }>(`/api/admin/users/${u.id}/password`, {});
                  setShown(r?.password ? `New password for ${u.name}: ${r.password} (shown once)` : `Password of ${u.name} reset`);
                })}>New password</button>
                <button type="button" className="small" onClick={() => void act(() => api.post(`/api/admin/users/${u.id}/revoke`))}>End sessions</button>
                <button type="button" className="small" onClick={() => {
                  if (window.confirm(`Delete ${u.name}?`)) void act(() => api.delete(`/api/admin/users/${u.id}`));
                }}>Delete</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table></div>
      <form className="inline-form" onSubmit={create}>
        <label>Name <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={64} autoComplete="off" /></label>
        <label>Role <select value={role} onChange={(e) => setRole(e.target.value as Role)}><option>viewer</option><option>editor</option><option>admin</option></select></label>
        <label>Password (empty: generate one) <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" /></label>
        <button type="submit" className="primary">Add user</button>
      </form>
    </section>
  );
}
