"""Prompts and answer templates of the agentic RAG graph. The "no index" and "no match"
answers are the `rag` graph's (`graphs.rag.prompts`)."""

PLAN_SYSTEM_PROMPT = (
    "Split the user's request into at most {limit} short questions that can each be answered by searching "
    "a travel guide. Each question must make sense on its own and name the place it is about."
)

PLAN_USER_PROMPT = "Request: {question}\nQuestions:"

# A trip plan on the template planner: one theme per day, each searched with one or two
# questions, then the parts every trip needs. The questions leave the destination out on
# purpose: in a guide to one city nearly every chunk names the city, and with the name in the
# query MiniLM ranks any chunk about the city first (measured on data/travel: "What is the best
# day trip from Lisbon?" put the Sintra guide outside the top 4, "Which palace is worth a day
# trip by train?" puts it first). A template may use "{place}" where a corpus covers many places.
DAY_THEMES = [
    ("the old town and the castle", ["Which old neighbourhood and castle should I see on a first day?",
                                     "Which viewpoint has the best view over the rooftops?"]),
    ("monuments and an evening out", ["Which historic monuments and monastery are worth half a day?",
                                      "Where is the best neighbourhood for bars and nightlife in the evening?"]),
    ("a day trip", ["Which palace is worth a day trip by train?",
                    "Which seaside town with beaches is an easy day trip by train?"]),
    ("museums", ["Which museums are worth visiting and when are they open?"]),
    ("the coast", ["Which beach is best for surfing or swimming?"]),
]
TRIP_PARTS = [
    ("Food to try", "Which traditional dish and pastry is the city famous for?"),
    ("Getting around", "How do I get around by tram and metro, and what does a ticket cost?"),
]
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
