def test_root_reports_an_elasticsearch_version_and_product_header(http):
    r = http.get("/")
    assert r.status_code == 200
    assert r.headers["x-elastic-product"] == "Elasticsearch"
    body = r.json()
    assert body["version"]["number"].startswith("8.")
    assert body["tagline"] == "You Know, for Search"


def test_head_root_answers_200(http):
    assert http.head("/").status_code == 200
