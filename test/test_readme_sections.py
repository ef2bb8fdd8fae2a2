"""Generated README sections are replaced in place and refuse a README without markers."""

import pytest

from sgnet_ros.benchmarks.readme_sections import replace_section


def test_section_is_replaced_between_its_markers_only(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("top\n<!-- t:start -->\nold\n<!-- t:end -->\nbottom $1 \\1\n")
    replace_section(readme, "t", "new | $1 \\g<0>")
    assert readme.read_text() == "top\n<!-- t:start -->\nnew | $1 \\g<0>\n<!-- t:end -->\n" \
                                 "bottom $1 \\1\n"
    with pytest.raises(ValueError, match="no '<!-- other:start -->'"):
        replace_section(readme, "other", "x")
