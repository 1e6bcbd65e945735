"""Prompts and answer templates of the graph-RAG graph. The model sees only the live schema and the
names linked from the question; the answers themselves are written by code from the query rows,
so every fact in them is a row of the graph and cites the document it came from."""

CHOOSE_TRAVERSAL_PROMPT = """Pick the query that answers the question.

Question: {question}
Names found in the question: {linked}

Queries:
{options}"""

CYPHER_PROMPT = """Write one read-only Cypher query (MATCH ... RETURN) over this graph schema.
{schema}

Rules: never CREATE, MERGE, DELETE, SET, REMOVE, DROP or CALL. Put every value in `params` and refer
to it as $name in the query; write no quoted strings in the query. Return a `source` column when a
relationship has one.
Names in the graph that the question mentions: {linked}

Question: {question}"""

NO_GRAPH_ANSWER = (
    "The graph store {location} is empty, so there is nothing to answer from yet. Build it first: "
    "`python -m rag.graph_ingest data/movies/films` (or any folder of film descriptions)."
)

UNSUPPORTED_ANSWER = (
    "I could not match that question to the graph. I answer questions that name people, films or genres "
    "it holds, for example: \"Recommend a thriller starring an actor who also worked with Christopher Nolan\", "
    "\"Which actors worked with Denis Villeneuve?\", \"Who directed Inception?\"."
)

REFUSED_ANSWER = "I did not run the query the model wrote: {reason}"

UNKNOWN_GENRE_ANSWER = "The graph holds no {genre} films, so I cannot answer that. Its genres: {genres}."

NOTHING_FOUND_ANSWER = "The graph has no {what} for {who}."

NOT_IN_GRAPH_ANSWER = ("The graph has no person, film or year matching {missing}, so I cannot answer that. "
                       "It holds {films} films by {people} people, in these genres: {genres}.")
