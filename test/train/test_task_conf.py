"""--task_conf (osum.sh passes a recipe's label sets and prompts this way): its content goes
into preprocessor_conf.task_conf, so config.yaml holds it and needs no file to decode."""

import pytest
import yaml

from osum.train.task import OSUMTask, read_task_conf


def test_task_conf_is_read_into_the_preprocessor_conf(tmp_path):
    conf = {"label_sets": {"style": ["calm", "lively"]}}
    (tmp_path / "tasks.yaml").write_text(yaml.safe_dump(conf))
    args = OSUMTask.get_parser().parse_args(
        [
            "--task_conf",
            str(tmp_path / "tasks.yaml"),
            "--preprocessor_conf",
            "prompt_languages=[zh]",
        ]
    )
    read_task_conf(args)
    assert args.task_conf is None
    assert args.preprocessor_conf == {"prompt_languages": ["zh"], "task_conf": conf}
    (tmp_path / "bad.yaml").write_text("- a list\n")
    args = OSUMTask.get_parser().parse_args(["--task_conf", str(tmp_path / "bad.yaml")])
    with pytest.raises(SystemExit, match="bad.yaml: not a YAML mapping"):
        read_task_conf(args)
