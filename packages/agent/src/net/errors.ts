import { FlotillaError } from '@flotilla/actor';

/** A network command (ip, iptables-restore, sysctl) failed or ran out of time. */
export class NetCommandError extends FlotillaError {
  readonly command: string;
  readonly args: readonly string[];
  readonly exitCode: number | null;
  readonly stderr: string;
  readonly netns: string | undefined;

  constructor(
    command: string,
    args: readonly string[],
    netns: string | undefined,
    exitCode: number | null,
    stderr: string,
  ) {
    const where = netns === undefined ? '' : ` (in netns ${netns})`;
    super(
      'NetCommandFailed',
      `${command} ${args.join(' ')}${where} exited with ${exitCode}: ${stderr.trim()}`,
      {
        command,
        args,
        netns,
        exitCode,
      },
    );
    this.command = command;
    this.args = args;
    this.exitCode = exitCode;
    this.stderr = stderr;
    this.netns = netns;
  }
}

/** An address range the project would install overlaps a route something else owns. */
export class RangeConflictError extends FlotillaError {
  constructor(range: string, route: string) {
    super('RangeConflict', `address range ${range} overlaps the existing route ${route}`, { range, route });
  }
}

/** A name or address given to the network code is not usable (too long, not a CIDR, ...). */
export class InvalidNetworkSpecError extends FlotillaError {
  constructor(message: string, data?: unknown) {
    super('InvalidNetworkSpec', message, data);
  }
}
