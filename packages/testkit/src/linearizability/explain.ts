import type { PartitionResult, Verdict, Violation } from './check.ts';
import type { Operation } from './history.ts';
import { type Model, UNKNOWN } from './model.ts';

/** Lines of a prefix or a candidate list shown before "... and N more". */
const shownOperationsMax = 12;

/** A few readable lines on a check's outcome; for an illegal history, where it fails and why. */
export function explainResult<State, Input, Output>(
  model: Model<State, Input, Output>,
  ops: readonly Operation<Input, Output>[],
  result: Verdict,
  partitions: readonly PartitionResult<State>[],
): string {
  switch (result) {
    case 'ok':
      return `linearizable: ${summary(ops)} in ${partitions.length} partition(s) of model ${model.name}`;
    case 'unknown': {
      const undecided = partitions.filter((p) => p.verdict === 'unknown');
      const reasons = undecided.map((p) => `${p.label} (${p.verdict === 'unknown' ? p.reason : ''})`);
      return (
        `undecided: ${undecided.length} of ${partitions.length} partition(s) ran out of budget: ` +
        `${list(reasons)}; the others are linearizable (${summary(ops)})`
      );
    }
    case 'illegal': {
      const illegal = partitions.filter((p) => p.verdict === 'illegal');
      const first = illegal[0]!;
      const lines = [
        `not linearizable: partition ${first.label} (${first.operations} operations) has no linearization` +
          (illegal.length > 1 ? `; also illegal: ${list(illegal.slice(1).map((p) => p.label))}` : ''),
      ];
      if (first.verdict === 'illegal') lines.push(...explainViolation(model, ops, first.violation));
      return lines.join('\n');
    }
  }
}

/** The lines that show where the search got furthest and which operations could not follow. */
export function explainViolation<State, Input, Output>(
  model: Model<State, Input, Output>,
  ops: readonly Operation<Input, Output>[],
  violation: Violation<State>,
): string[] {
  const { prefix, state, candidates, pendingUnknown, blocking } = violation;
  const lines: string[] = [];
  const shown = prefix.slice(-shownOperationsMax);
  lines.push(
    `longest linearizable prefix: ${prefix.length} operation(s)` +
      (shown.length < prefix.length ? `, the last ${shown.length}:` : prefix.length > 0 ? ':' : ''),
  );
  for (const i of shown) lines.push(`  ${describe(model, ops, i)}`);
  lines.push(`state after it: ${model.describeState(state)}`);
  lines.push(`${describe(model, ops, blocking)} returned first of those left, and nothing can precede it:`);
  for (const i of candidates.slice(0, shownOperationsMax)) {
    const op = ops[i]!;
    const allowed = model.step(state, op.input, op.kind === 'ok' ? op.output : UNKNOWN).ok;
    lines.push(
      `  ${describe(model, ops, i)}: ${allowed ? 'possible here, but every order after it fails' : 'impossible here'}`,
    );
  }
  if (candidates.length > shownOperationsMax)
    lines.push(`  ... and ${candidates.length - shownOperationsMax} more`);
  if (pendingUnknown.length > 0) {
    const named = pendingUnknown.slice(0, shownOperationsMax).map((i) => `#${i}`);
    const more =
      pendingUnknown.length > named.length ? ` and ${pendingUnknown.length - named.length} more` : '';
    lines.push(
      `  nor any of ${pendingUnknown.length} operation(s) of unknown outcome that may have taken effect by then (${named.join(', ')}${more})`,
    );
  }
  return lines;
}

/** `#12 client 3: put "k"="v" [10.200 → 11.050 ms]`. */
function describe<State, Input, Output>(
  model: Model<State, Input, Output>,
  ops: readonly Operation<Input, Output>[],
  index: number,
): string {
  const op = ops[index]!;
  const output = op.kind === 'ok' ? op.output : UNKNOWN;
  const returned = op.kind === 'unknown' ? '?' : op.returnMs.toFixed(3);
  const tag = op.kind === 'ok' ? '' : ` (${op.kind})`;
  return `#${index} client ${op.client}: ${model.describeOperation(op.input, output)}${tag} [${op.callMs.toFixed(3)} → ${returned} ms]`;
}

function summary<Input, Output>(ops: readonly Operation<Input, Output>[]): string {
  let ok = 0;
  let unknown = 0;
  let failed = 0;
  for (const op of ops) {
    if (op.kind === 'ok') ok++;
    else if (op.kind === 'unknown') unknown++;
    else failed++;
  }
  return `${ops.length} operations (${ok} ok, ${unknown} unknown, ${failed} failed)`;
}

function list(items: readonly string[]): string {
  return items.length <= shownOperationsMax
    ? items.join(', ')
    : `${items.slice(0, shownOperationsMax).join(', ')} and ${items.length - shownOperationsMax} more`;
}
