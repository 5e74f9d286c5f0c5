"""The site teaches the model: faces the models are unsure of are kept (select.py, sink.py) in a
review store (store.py), a person labels them (serve's review page) or an annotation file does
(io.py), and `maskwatch train --reviews` fine-tunes the classifier on the answers
(train/reviews.py)."""
