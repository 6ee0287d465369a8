from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


# Settings and input functions, by concern (order matters: each reads the ones above it).
include: "rules/common/config.smk"
include: "rules/common/recipes.smk"
include: "rules/common/evaluation.smk"
include: "rules/common/wildcards.smk"
include: "rules/common/data.smk"
include: "rules/common/targets.smk"
# The rules, by stage.
include: "rules/environment.smk"
include: "rules/model.smk"
include: "rules/data.smk"
include: "rules/baseline.smk"
include: "rules/qlora.smk"
include: "rules/analysis.smk"
include: "rules/judge.smk"
include: "rules/precision.smk"
include: "rules/knowledge.smk"


# `snakemake --report` opens with the study's headline once `all` has written it.
report: str(Path(FRONT_PAGE).resolve()) if Path(FRONT_PAGE).exists() else "report/workflow.rst"


rule all:
    default_target: True
    input:
        get_all_targets,
