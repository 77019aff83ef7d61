"""The Go text/template subset: properties (hypothesis) and Go's observable behaviour."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pharos.rules.funcs import expand, humanize, humanize1024, humanize_duration, prometheus_funcs
from pharos.rules.template import Template, TemplateError, go_float, go_sprintf


def render(src: str, data: object = None, **variables: object) -> str:
    return Template("t", src, prometheus_funcs()).execute(data, variables)


@given(st.text().filter(lambda s: "{{" not in s))
def test_text_without_actions_is_verbatim(text: str) -> None:
    assert render(text) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_go_float_round_trips(v: float) -> None:
    assert float(go_float(v)) == v


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_printf_d_and_print_of_ints(n: int) -> None:
    assert render(f"{{{{ printf \"%d\" {n} }}}}") == str(n)
    assert render("{{ . }}", n) == str(n)


@given(st.dictionaries(st.from_regex(r"[a-z]{1,5}", fullmatch=True), st.text(max_size=5), max_size=5))
def test_range_over_map_is_sorted(d: dict[str, str]) -> None:
    got = render("{{ range $k, $v := . }}{{ $k }}={{ $v }};{{ end }}", d)
    assert got == "".join(f"{k}={d[k]};" for k in sorted(d))


@given(st.booleans(), st.booleans())
def test_and_or_not(a: bool, b: bool) -> None:
    assert render("{{ and .A .B }}|{{ or .A .B }}|{{ not .A }}", {"A": a, "B": b}) == (
        f"{str(a and b).lower()}|{str(a or b).lower()}|{str(not a).lower()}"
    )


@pytest.mark.parametrize(("src", "want"), [
    ("{{ 1e6 }} {{ 123456.0 }} {{ 0.00001 }} {{ 1.5 }}", "1e+06 123456 1e-05 1.5"),
    ("a {{- ' ' -}} b", "a32b"),  # a char constant is a rune (an int), as in Go
    ("{{ if eq 1 2 }}x{{ else if eq 2 2 }}y{{ else }}z{{ end }}", "y"),
    ("{{ with $x := 5 }}{{ $x }}{{ end }}", "5"),
    ("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", "2"),
    ("{{ range $i, $v := .L }}{{ if eq $i 1 }}{{ continue }}{{ end }}{{ $v }}{{ end }}", "ac"),
    ("{{ range .Empty }}x{{ else }}none{{ end }}", "none"),
    ('{{ define "t" }}[{{ . }}]{{ end }}{{ template "t" "x" }}', "[x]"),
    ("{{ len .L }} {{ index .L 1 }} {{ index .M \"k\" }} {{ .M.missing }}|", "3 b v |"),
    ('{{ printf "%5.2f|%-4s|%q|%x" 3.14159 "ab" "q" 255 }}', ' 3.14|ab  |"q"|ff'),
    ('{{ "a" | printf "%s-%s" "b" }}', "b-a"),
    ("{{ print 1 2 \"x\" 3 }}", "1 2x3"),
    ("{{ .Nil }}", "<no value>"),
    ("{{/* comment */}}ok", "ok"),
    ('{{ reReplaceAll "(a+)" "<$1>" "baaad" }}', "b<aaa>d"),
    ('{{ title "hello big-world" }} {{ toUpper "a" }}{{ toLower "B" }}', "Hello Big-World Ab"),
    ('{{ match "^ab" "abc" }} {{ stripPort "host:80" }} {{ stripPort "[::1]:9" }}', "true host ::1"),
    ('{{ with args 1 "x" }}{{ .arg0 }}{{ .arg1 }}{{ end }}', "1x"),
    ("{{ humanizePercentage 0.5 }} {{ humanizeTimestamp 0 }}", "50% 1970-01-01 00:00:00 +0000 UTC"),
])
def test_go_behaviour(src: str, want: str) -> None:
    data = {"L": ["a", "b", "c"], "M": {"k": "v"}, "Empty": [], "Nil": None}
    assert render(src, data) == want


@pytest.mark.parametrize(("v", "want"), [
    (0, "0"), (1234, "1.234k"), (0.001234, "1.234m"), (-1e9, "-1G"), (math.inf, "+Inf"), (1, "1"),
])
def test_humanize(v: float, want: str) -> None:
    assert humanize(v) == want


def test_humanize_variants() -> None:
    assert humanize1024(1024) == "1ki" and humanize1024(0.5) == "0.5"
    assert humanize_duration(90061) == "1d 1h 1m 1s"
    assert humanize_duration(0.5) == "500ms" and humanize_duration(-61) == "-1m 1s"


@pytest.mark.parametrize(("src", "fragment"), [
    ("{{ nofunc }}", 'function "nofunc" not defined'),
    ("{{ .A", "unclosed action"),
    ("{{ if true }}x", "unexpected EOF"),
    ("{{ end }}", "unexpected"),
])
def test_parse_errors(src: str, fragment: str) -> None:
    with pytest.raises(TemplateError, match=fragment):
        Template("t", src, prometheus_funcs())


def test_execution_errors_render_like_prometheus() -> None:
    out = expand("{{ humanize \"abc\" }}", "__alert_X", {}, 1.0)
    assert out.startswith("<error expanding template: template: __alert_X:1:")
    assert "error calling humanize" in out
    with pytest.raises(TemplateError, match="incompatible types"):
        render("{{ gt 1 1.5 }}")


def test_function_map_is_pluggable() -> None:
    t = Template("n", "{{ shout .Name }}", {"shout": lambda s: s.upper() + "!"})
    assert t.execute({"Name": "x"}) == "X!"


def test_methods_and_fields_of_objects() -> None:
    class Alerts(list):  # type: ignore[type-arg]
        def Firing(self) -> list[str]:
            return [a for a in self if a.startswith("f")]

    t = Template("n", "{{ range .Alerts.Firing }}{{ . }};{{ end }}{{ len .Alerts }}", {})
    assert t.execute({"Alerts": Alerts(["f1", "r1", "f2"])}) == "f1;f2;3"


def test_expand_variables() -> None:
    got = expand("{{ $labels.job }} {{ $value }} {{ $externalLabels.c }} {{ $externalURL }}", "x",
                 {"job": "api"}, 2.5, {"c": "eu"}, "http://u")
    assert got == "api 2.5 eu http://u"
    assert go_sprintf("%d%%", 5) == "5%"
