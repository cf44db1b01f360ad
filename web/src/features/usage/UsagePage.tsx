// Usage: tokens and cost per day (chart), the month's budget, per model. A chunk of its own (charts).
import { useQuery } from "@tanstack/react-query";
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { api, unwrap, usd } from "../../api/client";

function monthStart(): string {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString().slice(0, 10);
}

export default function UsagePage() {
  const from = monthStart();
  const byDay = useQuery({
    queryKey: ["usage", "day", from],
    queryFn: async () => unwrap(await api.GET("/api/v1/usage", { params: { query: { from, group_by: "day" } } })),
  });
  const byModel = useQuery({
    queryKey: ["usage", "model", from],
    queryFn: async () => unwrap(await api.GET("/api/v1/usage", { params: { query: { from, group_by: "model" } } })),
  });
  const budget = byDay.data?.budget;
  const spentShare = budget && budget.monthly_budget_micros > 0 ? Math.min(1, budget.spent_micros / budget.monthly_budget_micros) : 0;
  const days = (byDay.data?.items ?? []).map((b) => ({
    day: b.key,
    input: b.input_tokens,
    output: b.output_tokens,
    cost: b.cost_micros / 1_000_000,
  }));
  return (
    <div className="page">
      <h1>Usage</h1>
      {budget && (
        <section aria-labelledby="budget-title" className="card">
          <h2 id="budget-title">Budget this month</h2>
          <div
            className={`budget-bar${budget.exceeded ? " exceeded" : ""}`}
            role="progressbar"
            aria-label="Budget spent"
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={Math.round(spentShare * 100)}
          >
            <span style={{ width: `${spentShare * 100}%` }} />
          </div>
          <p>
            {usd(budget.spent_micros)} of ${budget.monthly_budget_usd} spent · {usd(budget.remaining_micros)} left · resets{" "}
            {new Date(budget.resets_at).toLocaleDateString()}
            {budget.exceeded && " · budget reached: AI requests are refused until then"}
          </p>
        </section>
      )}
      <section aria-labelledby="daily-title" className="card">
        <h2 id="daily-title">Tokens per day</h2>
        {days.length === 0 ? (
          <p className="muted">No usage this month yet.</p>
        ) : (
          <div className="chart" role="img" aria-label={`Tokens per day: ${days.map((d) => `${d.day} ${d.input + d.output}`).join(", ")}`}>
            <ResponsiveContainer width="100%" height={260}>
              <BarChart data={days}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="day" />
                <YAxis />
                <Tooltip />
                <Legend />
                <Bar dataKey="input" name="Input tokens" stackId="t" fill="#6366f1" />
                <Bar dataKey="output" name="Output tokens" stackId="t" fill="#14b8a6" />
              </BarChart>
            </ResponsiveContainer>
          </div>
        )}
      </section>
      <section aria-labelledby="models-title" className="card">
        <h2 id="models-title">Per model</h2>
        <table>
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col">Requests</th>
              <th scope="col">Input tokens</th>
              <th scope="col">Output tokens</th>
              <th scope="col">Cost</th>
            </tr>
          </thead>
          <tbody>
            {byModel.data?.items.map((b) => (
              <tr key={b.key}>
                <td>{b.key}</td>
                <td>{b.requests}</td>
                <td>{b.input_tokens}</td>
                <td>{b.output_tokens}</td>
                <td>{usd(b.cost_micros)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}
