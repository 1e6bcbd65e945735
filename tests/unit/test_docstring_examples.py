"""The worked examples in module docstrings are tests too."""

import doctest

import pytest

import models.constrained
import models.messages
import models.registry
import models.runtime
import models.settings
import models.spec
import evals.finetune
import evals.ir_metrics
import graphs.analysts.graph
import rag.evidence
import rag.learned_fusion
import rag.mmr
import rag.query_expansion
import rag.rerank
import rag.retrievers
import tools.home.tools
import tools.market
import training.answerability
import training.dpo
import training.embedding_adapt
import training.grounded_data
import training.injection_classifier
import training.merge
import training.optim_step
import training.preference_data
import training.query_distill
import training.reranker
import training.retrieval_pairs
import training.sft
import training.significance
import training.task_data
import training.tool_data


@pytest.mark.parametrize("module", [models.constrained, models.messages, models.runtime, models.settings, models.spec, rag.evidence, rag.retrievers,
                                    rag.learned_fusion, rag.query_expansion,
                                    evals.ir_metrics, evals.finetune, tools.home.tools, tools.market, graphs.analysts.graph,
                                    training.embedding_adapt, training.query_distill, training.retrieval_pairs,
                                    training.reranker, training.optim_step, training.preference_data, training.merge,
                                    training.answerability, training.dpo, training.injection_classifier, training.sft,
                                    training.tool_data, training.grounded_data, training.significance, training.task_data,
                                    models.registry])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
