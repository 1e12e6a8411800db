"""The SGE back end, against a fake qsub that records its arguments and runs the job script task by
task with SGE's variables (a real Grid Engine is not practical to bring up in a test: its Debian
packages configure a cell interactively around the machine's host name)."""
from __future__ import annotations

from launch_helpers import job_log, run_launch


def _qsub_calls(fake):
    return [call[1:] for call in fake.calls if call[0] == "qsub"]


def test_array_through_qsub_with_queue_conf_flags(fake_scheduler, recipe_cwd):
    done = run_launch(["--backend", "sge", "--mem", "4G", "--num-threads", "2", "--max-jobs-run", "3",
                       "--time", "2:00:00", "--extra", "-q all.q -P asc", "JOB=1:4", "exp/log/extract.JOB.log",
                       "echo", "shard", "JOB", "task", "$SGE_TASK_ID"], recipe_cwd, env=fake_scheduler.env())
    assert done.returncode == 0, done.stderr
    [argv] = _qsub_calls(fake_scheduler)
    text = " ".join(argv)
    assert argv[:4] == ["-V", "-S", "/bin/bash", "-l"]  # conf/queue.conf's command line first
    for flags in ("-l mem_free=4G,ram_free=4G", "-pe smp 2", "-tc 3", "-l h_rt=2:00:00", "-N extract",
                  "-j y", "-sync y", "-t 1-4", "-q all.q -P asc"):
        assert flags in text, flags
    assert "-l gpu" not in text  # default gpu=0 maps to no flags
    assert argv[argv.index("-o") + 1] == str((recipe_cwd / "exp/log/q/extract.$TASK_ID.out").resolve())
    script = recipe_cwd / "exp/log/q/extract.sh"
    assert argv[-1] == str(script)
    body = script.read_text()
    assert body.startswith("#!")
    assert '--index "${SGE_TASK_ID}"' in body and "--num-threads 2" in body
    for index in range(1, 5):
        header, output, footer = job_log(recipe_cwd / f"exp/log/extract.{index}.log")
        assert output == f"shard {index} task {index}\n"
        assert f"(sge job 77_{index})" in header
        assert "# Ended (code 0)" in footer


def test_failed_job_is_named(fake_scheduler, recipe_cwd):
    done = run_launch(["--backend", "sge", "JOB=1:3", "log/x.JOB.log", "test", "JOB", "-ne", "2"],
                      recipe_cwd, env=fake_scheduler.env())
    assert done.returncode == 1
    assert "launch.sh: 1 of 3 jobs failed: log/x.2.log" in done.stderr


def test_pick_failed_submits_one_array_per_run_of_failed_jobs(fake_scheduler, recipe_cwd):
    fix = recipe_cwd / "fixed"
    command = ["test", "JOB", "-eq", "1", "-o", "JOB", "-eq", "3", "-o", "-e", str(fix)]
    first = run_launch(["--backend", "sge", "JOB=1:5", "log/x.JOB.log", *command], recipe_cwd,
                       env=fake_scheduler.env())
    assert first.returncode == 1 and "3 of 5 jobs failed: log/x.2.log log/x.4.log log/x.5.log" in first.stderr
    fix.touch()
    again = run_launch(["--backend", "sge", "--pick", "failed", "JOB=1:5", "log/x.JOB.log", *command],
                       recipe_cwd, env=fake_scheduler.env())
    assert again.returncode == 0, again.stderr
    ranges = sorted(argv[argv.index("-t") + 1] for argv in _qsub_calls(fake_scheduler)[1:])
    assert ranges == ["2-2", "4-5"]


def test_single_gpu_job_has_no_task_range(fake_scheduler, recipe_cwd):
    done = run_launch(["--backend", "sge", "--gpu", "2", "exp/train.log", "echo", "$SGE_TASK_ID"], recipe_cwd,
                      env=fake_scheduler.env())
    assert done.returncode == 0, done.stderr
    [argv] = _qsub_calls(fake_scheduler)
    assert "-t" not in argv and "gpu=2" in argv
    assert job_log(recipe_cwd / "exp/train.log")[1] == "undefined\n"


def test_option_the_config_does_not_map_is_refused(fake_scheduler, recipe_cwd):
    (recipe_cwd / "conf/queue.conf").write_text("command qsub -V\noption mem=* -l mem_free=$0\n")
    done = run_launch(["--backend", "sge", "--time", "1:00:00", "log/x.log", "true"], recipe_cwd,
                      env=fake_scheduler.env())
    assert done.returncode == 1
    assert "conf/queue.conf: no 'option time=...' line, so --time 1:00:00 cannot be passed" in done.stderr
    assert _qsub_calls(fake_scheduler) == []
