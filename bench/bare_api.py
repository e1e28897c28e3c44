"""The yardstick of bench/api_throughput.py: plain FastAPI parsing the same request model and answering a fixed
body, with nothing else to do. `uvicorn bench.bare_api:app`.

`app` is the fastest plain FastAPI gets for that work: an `async def` endpoint, run on the event loop as the real
`POST /be/tickets` is. `sync_app` is the yardstick used until issue #10: a plain `def` endpoint, which costs every
request a hop through the thread pool; it is still measured, for comparison with older figures.
"""

from fastapi import FastAPI
from fastapi.responses import Response

from ticketing.contract.models import TicketRequest

FIXED = b'{"id":"6314704d686a9e8e5d68dca6","code":"A12A42","status":"new","result":"pending","approved":true}'

app = FastAPI()
sync_app = FastAPI()


@app.post("/be/tickets")
async def create_ticket(body: TicketRequest) -> Response:
    return Response(FIXED, media_type="application/json")


@sync_app.post("/be/tickets")
def create_ticket_in_thread_pool(body: TicketRequest) -> Response:
    return Response(FIXED, media_type="application/json")
