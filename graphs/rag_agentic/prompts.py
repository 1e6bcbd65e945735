"""Prompts and answer templates of the agentic RAG graph. The "no index" and "no match"
answers are `rag.answering`'s."""

PLAN_SYSTEM_PROMPT = (
    "Split the user's request into at most {limit} short questions that can each be answered by searching "
    "a travel guide. Each question must make sense on its own and name the place it is about."
)

PLAN_USER_PROMPT = "Request: {question}\nQuestions:"

# A trip plan on the template planner: one theme per day, each searched with one or two questions,
# then the parts every trip needs; the themes and questions belong to the corpus
# (data/travel/plans/trip_themes.json, read by rag.demo.trip_themes).
DAY_TITLE = "Day {day}: {theme}"
DEFAULT_PLACE = "the city"

PLAN_INTRO = "A {days}-day plan for {place} from the guides in '{collection}' (each item cites its source):"
ANSWER_INTRO = "What the documents in '{collection}' say, part by part:"
PART_HEADING = "**{title}**"
PART_ITEM = "- {sentence} [{number}]"
PART_NOTHING_FOUND = "- Nothing in the documents answers this part."

SYNTHESIS_SYSTEM_PROMPT = (
    "You are a helpful travel assistant. Answer using only the numbered sources. "
    "Cite the source of every fact like [1]."
)

SYNTHESIS_USER_PROMPT = """Sources:
{sources}

Parts to cover:
{parts}

Request: {question}
{shape}Answer:"""

PLAN_SHAPE = "Write a plan with one section per day, titled Day 1 to Day {days}, then the tips.\n"
