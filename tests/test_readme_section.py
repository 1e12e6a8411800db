"""Generated README sections: filled between their markers, the authors' text untouched."""
from __future__ import annotations

import pytest

from asc.errors import InputError
from asc.readme_section import fill_section, main

DOC = "# Project\n\nintro\n\n<!-- kd:begin -->\nold table\n<!-- kd:end -->\n\n## After\ntext\n"


def test_the_section_is_replaced_and_nothing_else(tmp_path):
    doc = tmp_path / "README.md"
    doc.write_text(DOC)
    assert fill_section(doc, "kd", "| a | b |\n") is True
    assert doc.read_text() == DOC.replace("old table\n", "| a | b |\n")
    assert fill_section(doc, "kd", "| a | b |") is False          # same text: the file is left alone


@pytest.mark.parametrize("text", ["no markers\n", "<!-- kd:end -->\n<!-- kd:begin -->\n",
                                  "<!-- kd:begin -->\n<!-- kd:end -->\n<!-- kd:begin -->\n<!-- kd:end -->\n"])
def test_missing_reversed_or_repeated_markers_name_the_file(tmp_path, text):
    doc = tmp_path / "README.md"
    doc.write_text(text)
    with pytest.raises(InputError, match="README.md.*<!-- kd:begin -->"):
        fill_section(doc, "kd", "x\n")
    assert doc.read_text() == text


def test_command_line_reads_the_section_from_a_file(tmp_path, capsys):
    doc, table = tmp_path / "README.md", tmp_path / "table.md"
    doc.write_text(DOC)
    table.write_text("new\n")
    assert main([str(doc), "kd", str(table)]) == 0
    assert "new\n<!-- kd:end -->" in doc.read_text()
    assert main([str(doc), "prune", str(table)]) == 1
    assert "prune:begin" in capsys.readouterr().err
