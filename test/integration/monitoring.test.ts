import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { toolAvailable } from '../support/tools.ts';

const DEPLOY = new URL('../../deploy/', import.meta.url).pathname;
const PROMETHEUS = path.join(DEPLOY, 'prometheus');

/**
 * Every metric name the exporter exposes: what `exporter work` serves
 * (src/live-metrics.ts) and what the batch commands push (src/metrics.ts),
 * each declared there by a literal name.
 */
function exposedMetrics(): Set<string> {
  const source = (file: string) => readFileSync(new URL(`../../src/${file}`, import.meta.url), 'utf8');
  const live = [...source('live-metrics.ts').matchAll(/name: '(exporter_[a-z_]+)'/g)].map((m) => m[1]!);
  const pushed = [...source('metrics.ts').matchAll(/gauge\(\s*'(exporter_[a-z_]+)'/g)].map((m) => m[1]!);
  expect(live.length).toBeGreaterThan(5);
  expect(pushed.length).toBeGreaterThan(10);
  return new Set([...live, ...pushed]);
}

/** The exporter_* names a PromQL expression reads (a histogram's _bucket, _sum and _count are its own name). */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\bexporter_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));
}

describe.runIf(toolAvailable('promtool'))("the operator's alerts and dashboard (deploy/)", () => {
  it('the alert rules pass promtool check rules and their unit tests (promtool test rules), and read only metrics the exporter exposes', () => {
    expect(execFileSync('promtool', ['check', 'rules', 'alerts.yaml'], { cwd: PROMETHEUS }).toString()).toContain(
      'SUCCESS: 7 rules found',
    );
    const tested = spawnSync('promtool', ['test', 'rules', 'alerts.test.yaml'], { cwd: PROMETHEUS });
    expect(tested.status, tested.stdout.toString() + tested.stderr.toString()).toBe(0);
    expect(tested.stdout.toString()).toContain('SUCCESS');
    const exposed = exposedMetrics();
    const rules = readFileSync(path.join(PROMETHEUS, 'alerts.yaml'), 'utf8');
    const names = [...rules.matchAll(/^\s+- alert: (\w+)$/gm)].map((m) => m[1]);
    expect(names).toEqual([
      'ExporterNightlyMissed',
      'ExporterRequestsPendingTooLong',
      'ExporterRequestOverdue',
      'ExporterRequestDueSoon',
      'ExporterDefinitionBlocking',
      'ExporterErasureOverdue',
      'ExporterErasureFailed',
    ]);
    const tests = readFileSync(path.join(PROMETHEUS, 'alerts.test.yaml'), 'utf8');
    for (const name of names) expect(tests, `${name} has a unit test`).toContain(`alertname: ${name}`);
    for (const expr of [...rules.matchAll(/^\s+expr: (.*)$/gm)].map((m) => m[1]!)) {
      for (const metric of metricsIn(expr)) expect(exposed, `${metric} (in ${expr})`).toContain(metric);
    }
  });

  it('the Grafana dashboard shows what the issue asks, in valid PromQL over metrics the exporter exposes', () => {
    const dashboard = JSON.parse(readFileSync(path.join(DEPLOY, 'grafana', 'exporter.json'), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    expect(dashboard.panels.map((p) => p.title)).toEqual([
      'Requests overdue',
      'Earliest due date in',
      'Oldest pending request',
      'Since the last successful night',
      'Requests by outcome',
      'Time to ready',
      'Bytes written',
      'Rows written',
      'Overdue and pending over time',
      'Definition matches the database',
    ]);
    const exposed = exposedMetrics();
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    for (const expr of exprs) {
      expect(metricsIn(expr).length, expr).toBeGreaterThan(0);
      for (const metric of metricsIn(expr)) expect(exposed, `${metric} (in ${expr})`).toContain(metric);
    }
    // Every query parses: promtool checks them as recording rules (Grafana's $__rate_interval as 5m).
    const dir = mkdtempSync(path.join(tmpdir(), 'dashboard-'));
    try {
      const file = path.join(dir, 'queries.yaml');
      const rules = exprs.map(
        (expr, i) =>
          `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(expr.replaceAll('$__rate_interval', '5m'))}`,
      );
      writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n`);
      const checked = spawnSync('promtool', ['check', 'rules', file]);
      expect(checked.status, checked.stdout.toString() + checked.stderr.toString()).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
