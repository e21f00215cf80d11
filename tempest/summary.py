"""Summarise a Tempest run from its subunit stream: counts, skipped tests with reasons,
excluded patterns with reasons, failing tests.

Usage: summary.py RESULTS.subunit EXCLUDE_FILE WALL_SECONDS
Exit status: 0 when every test that ran passed, 1 when one failed, 3 when none ran.
"""
import sys

import subunit
import testtools

stream_path, exclude_path, wall = sys.argv[1], sys.argv[2], int(sys.argv[3])
tests = {}


def on_test(test):
    tests[test['id']] = test


with open(stream_path, 'rb') as f:
    result = testtools.StreamToDict(on_test)
    result.startTestRun()
    subunit.ByteStreamToStreamResult(f, non_subunit_name='stdout').run(result)
    result.stopTestRun()

# setUpClass failures show as "setUpClass (tempest.api....Class)"; keep them, they are failures.
by_status = {}
for tid, t in tests.items():
    by_status.setdefault(t['status'], []).append(tid)
passed = by_status.get('success', [])
skipped = by_status.get('skip', [])
failed = by_status.get('fail', []) + by_status.get('uxsuccess', [])


def reason(t):
    d = t['details'].get('reason')
    return d.as_text().strip() if d else ''


print('==== Tempest summary ====')
print(f'passed {len(passed)}  failed {len(failed)}  skipped {len(skipped)}  '
      f'(ran {len(passed) + len(failed)}; wall time {wall // 60} min {wall % 60} s)')

print(f'\n-- excluded patterns (tempest/exclude.txt) --')
for line in open(exclude_path):
    line = line.strip()
    if line and not line.startswith('#'):
        pattern, _, why = line.partition('#')
        print(f'{pattern.strip()}  -- {why.strip()}')

print(f'\n-- skipped ({len(skipped)}) --')
for tid in sorted(skipped):
    print(f'{tid}  -- {reason(tests[tid])}')

print(f'\n-- failed ({len(failed)}) --')
for tid in sorted(failed):
    tb = tests[tid]['details'].get('traceback')
    last = [line for line in (tb.as_text() if tb else '').splitlines() if line.strip()][-1:]
    print(f'{tid}  -- {last[0].strip()[:300] if last else ""}')

sys.exit(1 if failed else 3 if not passed else 0)
