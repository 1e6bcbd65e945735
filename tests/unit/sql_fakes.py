"""A scripted fake chat model for unit tests of the text-to-SQL graph."""

from __future__ import annotations

from langchain_core.language_models.fake_chat_models import FakeListChatModel


class FakeSQLChatModel(FakeListChatModel):
    """Scripted fake chat model: replies with the given SQL strings in turn, records prompts."""

    prompts: list = []

    def _call(self, messages, stop=None, run_manager=None, **kwargs):
        self.prompts.append("\n".join(str(m.content) for m in messages))
        return super()._call(messages, stop=stop, run_manager=run_manager, **kwargs)
