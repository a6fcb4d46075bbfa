// The options and help lines of commands that can run as a resumable scan job (--work): plain data,
// so a command's --help loads nothing heavy.

export const JOB_OPTIONS = {
  work: { type: 'string' },
  job: { type: 'string' },
  workers: { type: 'string' },
  'time-budget': { type: 'string' },
  'item-budget': { type: 'string' },
} as const;

export const JOB_HELP = `Scan job (resumable, several processes; see docs/usage.md "Scan jobs"):
  --work LOC               run as a scan job whose state lives in LOC/<job>/ (s3://bucket/prefix or
                           a directory): segment tasks that stop and resume, then one merge
  --job ID                 the scan job to create or resume (default: a new id, printed on stderr);
                           re-run the same command with the same --work and --job to resume
  --segments M             (with --work) tasks the key space is split into (default 4 x workers)
  --workers N              (with --work) run the tasks in N child processes (default: this process)
  --time-budget D          (with --work) a task stops and commits after D (e.g. 30s, 5m), then
                           resumes where it stopped (default: run each segment to its end)
  --item-budget N          (with --work) ... or after N items (checked per page; default: no limit)
  --read-budget, --write-budget
                           (with --work) the whole job's capacity, split evenly over the workers`;
