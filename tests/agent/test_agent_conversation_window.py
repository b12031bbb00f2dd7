"""``Agent.run(conversation=...)`` fits the history to the model's window as a chat turn does,
``max_tokens`` (the answer's room) included."""

from __future__ import annotations

from poe_mcp import Agent, AsyncPoeClient, Conversation
from poe_mcp.store.memory import MemoryStore

SMALL = "Llama-3.1-405B"  # a 128k window


async def _long_history(client: AsyncPoeClient) -> Conversation:
    conversation = Conversation(store=MemoryStore())
    for n in range(3):  # ~30k tokens a message, echoed back: ~180k tokens in all
        await conversation.ask(client, "GPT-4.1", f"turn {n} " + "word " * 24_000)
    return conversation


def _received(text: str) -> int:
    return int(text.split(" received ")[1].split()[0])


async def test_an_agent_turn_keeps_max_tokens_free_like_a_chat_turn(
    client: AsyncPoeClient,
) -> None:
    room = {"max_tokens": 60_000}
    chat = await (await _long_history(client)).ask(client, SMALL, "short", **room)
    agent = Agent(client, SMALL, options=room)
    run = await agent.run("short", conversation=await _long_history(client))
    plain = await Agent(client, SMALL).run("short", conversation=await _long_history(client))
    assert _received(run.text) == _received(chat.text)
    assert _received(run.text) < _received(plain.text)  # the answer's room left less history
