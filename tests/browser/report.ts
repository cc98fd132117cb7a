// How a page opened by scripts/browser-pages.mjs answers: it runs its work and POSTs
// {ok: true, result} or {ok: false, message} to /report?id=<the report parameter of its URL>.

export const queryArgs = (): Record<string, unknown> => JSON.parse(new URLSearchParams(location.search).get("args") ?? "{}") as Record<string, unknown>;

export async function reportResult(work: () => Promise<unknown>): Promise<void> {
  const id = new URLSearchParams(location.search).get("report") ?? "";
  const post = (body: unknown) => fetch(`/report?id=${encodeURIComponent(id)}`, { method: "POST", body: JSON.stringify(body) });
  try {
    await post({ ok: true, result: await work() });
  } catch (e) {
    await post({ ok: false, message: (e as Error)?.message ?? String(e) });
  }
}
