/** One-line, readable descriptions of messages and Readies for the simulator's trace. */
import type { Entry, Message, Ready } from '../src/core/index.ts';

function span(entries: readonly Entry[]): string {
  if (entries.length === 0) return '[]';
  const first = entries[0]!;
  const last = entries[entries.length - 1]!;
  const conf = entries.some((e) => e.type === 'conf') ? ' +conf' : '';
  return first === last
    ? `[${first.index}@${first.term}${conf}]`
    : `[${first.index}@${first.term}..${last.index}@${last.term}${conf}]`;
}

export function describeMessage(m: Message): string {
  const head = `${m.type} ${m.from}→${m.to} t${m.term}`;
  switch (m.type) {
    case 'preVote':
    case 'vote':
      return `${head} last=${m.lastIndex}@${m.lastTerm}${m.transfer ? ' transfer' : ''}`;
    case 'preVoteResp':
    case 'voteResp':
      return `${head} ${m.granted ? 'granted' : 'rejected'}`;
    case 'append':
      return `${head} prev=${m.prevIndex}@${m.prevTerm} ${span(m.entries)} commit=${m.commit}`;
    case 'appendResp':
      return m.reject
        ? `${head} reject ${m.index} hint=${m.hintIndex}@${m.hintTerm}`
        : `${head} ok ${m.index}`;
    case 'heartbeat':
      return `${head} commit=${m.commit}${m.context === null ? '' : ` ctx=${m.context}`}`;
    case 'heartbeatResp':
      return `${head}${m.context === null ? '' : ` ctx=${m.context}`}`;
    case 'snapshot':
      return `${head} snap=${m.snapshot.index}@${m.snapshot.term} voters=${m.snapshot.conf.voters.join(',')}`;
    case 'timeoutNow':
      return head;
    case 'propose':
      return `${head} ${m.data.byteLength}B`;
    case 'readIndex':
      return `${head} ctx=${m.context}`;
    case 'readIndexResp':
      return `${head} ctx=${m.context} index=${m.index}`;
  }
}

export function describeReady(rd: Ready): string {
  const parts: string[] = [];
  if (rd.softState) parts.push(`${rd.softState.role} leader=${rd.softState.leader ?? '-'}`);
  if (rd.hardState)
    parts.push(`hs{t${rd.hardState.term} vote=${rd.hardState.vote ?? '-'} commit=${rd.hardState.commit}}`);
  if (rd.snapshot) parts.push(`snapshot=${rd.snapshot.index}@${rd.snapshot.term}`);
  if (rd.entries.length > 0) parts.push(`persist${span(rd.entries)}`);
  if (rd.committed.length > 0) parts.push(`apply${span(rd.committed)}`);
  if (rd.messages.length > 0) parts.push(`send ${rd.messages.length}`);
  if (rd.readStates.length > 0)
    parts.push(`reads ${rd.readStates.map((r) => `${r.context}@${r.index}`).join(',')}`);
  if (rd.conf) parts.push(`conf voters=${rd.conf.voters.join(',')} learners=${rd.conf.learners.join(',')}`);
  return parts.join(' ');
}
