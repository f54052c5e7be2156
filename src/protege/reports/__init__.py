"""What a person looks at: plots (`plots`) and the HTML report over runs (`html`)."""
