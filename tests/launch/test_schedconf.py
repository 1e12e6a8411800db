"""Kaldi-format scheduler configs (conf/slurm.conf, conf/queue.conf) and the job array's naming rules."""
from __future__ import annotations

import pytest

from launch_helpers import RECIPE

from asc.errors import ConfigError
from asc.launch.jobs import JobArray, Resources, index_ranges, shell_command
from asc.launch.schedconf import SchedulerConfig
from asc.launch.slurm import array_spec


def test_recipe_configs_map_every_generic_option():
    asked = Resources(mem="4G", num_threads=2, gpu=2, time="4:00:00", max_jobs_run=8)
    slurm = SchedulerConfig.load(RECIPE / "conf/slurm.conf")
    assert slurm.command == ["sbatch", "--export=ALL"]
    assert slurm.flags(asked.generic(with_max_jobs_run=False)) == [
        "--gres=gpu:2", "--mem=4G", "--cpus-per-task=2", "--time=4:00:00"]
    assert slurm.flags(Resources().generic(with_max_jobs_run=False)) == []  # defaults add nothing
    sge = SchedulerConfig.load(RECIPE / "conf/queue.conf")
    assert sge.flags(asked.generic(with_max_jobs_run=True)) == [
        "-l", "gpu=2", "-l", "mem_free=4G,ram_free=4G", "-pe", "smp", "2", "-l", "h_rt=4:00:00", "-tc", "8"]


def test_fixed_value_wins_over_catch_all_and_default_applies():
    conf = SchedulerConfig.parse("command sbatch\ndefault gpu=0\noption gpu=0 -p cpu\noption gpu=* -p gpu --gres=gpu:$0\n",
                                 "site.conf")
    assert conf.flags({"gpu": None}) == ["-p", "cpu"]
    assert conf.flags({"gpu": "0"}) == ["-p", "cpu"]
    assert conf.flags({"gpu": "4"}) == ["-p", "gpu", "--gres=gpu:4"]


@pytest.mark.parametrize("text, message", [
    ("option mem=* --mem=$0\n", "site.conf: no 'command' line"),
    ("command sbatch\noptoin mem=* --mem=$0\n", "site.conf line 2: unknown keyword 'optoin'"),
    ("command sbatch\noption mem --mem=$0\n", "site.conf line 2: expected 'option NAME=VALUE ...'"),
])
def test_malformed_config_names_file_and_line(text, message):
    with pytest.raises(ConfigError, match=message):
        SchedulerConfig.parse(text, "site.conf")


def test_value_without_a_line_is_refused():
    conf = SchedulerConfig.parse("command qsub\noption gpu=0\n", "queue.conf")
    with pytest.raises(ConfigError, match="no 'option gpu=2' or 'option gpu=\\*' line for --gpu 2"):
        conf.flags({"gpu": "2"})


def test_job_names_queue_folder_and_ranges():
    jobs = JobArray.parse("JOB=1:4", "dump/student/test/log/extract.JOB.log", "echo JOB")
    assert jobs.name == "extract" and str(jobs.queue_dir) == "dump/student/test/log/q"
    nested = JobArray.parse("N=2:3", "exp/N/log/3train.log", "echo N")
    assert nested.name == "j3train" and str(nested.queue_dir) == "exp/q"
    assert str(nested.log(2)) == "exp/2/log/3train.log"
    assert index_ranges([5, 1, 2, 3, 7, 8]) == [(1, 3), (5, 5), (7, 8)]
    assert array_spec([1, 2, 4], 3) == "1-2,4%3"
    assert shell_command(["echo", "a b", 'say "hi"', "it's", "", "|", "wc"]) == \
        """echo 'a b' 'say "hi"' 'it'"'"'s' '' | wc"""
    assert shell_command(["echo", "$SGE_TASK_ID", "${X}", "/data/$HOME;x", "2>&1", ">", "a.log"]) == \
        "echo $SGE_TASK_ID ${X} '/data/$HOME;x' 2>&1 > a.log"
